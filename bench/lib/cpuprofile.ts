/**
 * Summary of a V8 CPU profile (the `.cpuprofile` JSON that `node --cpu-prof` writes): self time
 * per function and per module (package or source folder), so that a profile of the gateway says
 * where its CPU goes without a browser's profiler.
 */
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** One row of a summary: a function or a module, its self time and its share of the busy time. */
export interface ProfileRow {
  name: string;
  selfMs: number;
  share: number;
}

/** Self time by function and by module, over the samples that were not idle. */
export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  functions: ProfileRow[];
  modules: ProfileRow[];
}

/** The module a script URL belongs to: a package of node_modules, a folder of the gateway, or a Node internal. */
export function moduleOf(url: string): string {
  if (url === '') return '(native)';
  if (url.startsWith('node:')) return url;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const own = /\/(?:dist\/)?(gateway|adapters)\/(.+)\/[^/]+$/.exec(url);
  if (own) return `${own[1]}/${own[2]}`;
  return url.replace(/^.*\//, '');
}

const IDLE = new Set(['(idle)', '(program)', '(garbage collector)']);

/**
 * Sums the self time of every sample of `profile` per function and per module; only the samples
 * from `fromMicros` to `untilMicros` (microseconds of the monotonic clock, as `process.hrtime`),
 * e.g. to leave the start-up and the shutdown out.
 */
export function summarise(profile: CpuProfile, top = 25, fromMicros = 0, untilMicros = Infinity): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const functions = new Map<string, number>();
  const modules = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (at < fromMicros || at > untilMicros) continue;
    const node = byId.get(profile.samples[i]!)!;
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const fn = node.callFrame.functionName || '(anonymous)';
    if (fn === '(idle)') {
      idle += ms;
      continue;
    }
    busy += ms;
    const where = IDLE.has(fn) ? fn : moduleOf(node.callFrame.url);
    const key = IDLE.has(fn) ? fn : `${fn} ${where}:${node.callFrame.lineNumber + 1}`;
    functions.set(key, (functions.get(key) ?? 0) + ms);
    modules.set(where, (modules.get(where) ?? 0) + ms);
  }
  const rows = (m: Map<string, number>): ProfileRow[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, selfMs]) => ({ name, selfMs, share: busy > 0 ? selfMs / busy : 0 }));
  return { busyMs: busy, idleMs: idle, functions: rows(functions), modules: rows(modules) };
}

/** Reads and summarises a `.cpuprofile` file. */
export async function summariseFile(path: string, top = 25, fromMicros = 0, untilMicros = Infinity): Promise<ProfileSummary> {
  return summarise(JSON.parse(await readFile(path, 'utf8')) as CpuProfile, top, fromMicros, untilMicros);
}

/** The summary as text: the busy time, then the top modules and functions by self time. */
export function formatSummary(summary: ProfileSummary): string {
  const line = (r: ProfileRow): string => `${r.selfMs.toFixed(0).padStart(8)} ms ${(r.share * 100).toFixed(1).padStart(5)} %  ${r.name}`;
  return [`busy ${summary.busyMs.toFixed(0)} ms, idle ${summary.idleMs.toFixed(0)} ms`, 'self time by module:', ...summary.modules.map(line), 'self time by function:', ...summary.functions.map(line)].join('\n');
}
