/**
 * The processes of a gateway started through the CLI, read from /proc (Linux): the worker
 * processes of a primary, and whether a process still runs.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** The worker processes of a primary: its children running aegis (tsx may also run esbuild). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const isChild = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      if (isChild && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('aegis.mjs')) out.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return out.sort((a, b) => a - b);
}

/** True while `pid` runs (a zombie, exited but not yet reaped, does not count). */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Resolves once `check()` holds; rejects after `ms` saying what was awaited. */
export async function until(check: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
