/**
 * The soak's operations, each one request (or two) with an exact check of the answer: STOW of a
 * new churn study, WADO of an instance, frames, QIDO at study, series and instance level with
 * filters, study metadata, DELETE of the oldest churn study (with a QIDO that it is gone), and the
 * requests the policy must refuse (expected denials, counted apart from errors).
 */
import type { Agent } from 'node:http';
import { churnStudy, type SoakData, type SoakStudy } from './soak-data.js';
import type { BenchInstance } from './dataset.js';
import { send, type HttpResult } from './http.js';
import { boundaryOf, parseMultipart, stowBody } from './multipart.js';
import { ACCEPT_FRAMES, ACCEPT_INSTANCE } from './operations.js';
import type { Outcome, SoakRecorder } from './soak-stats.js';

const ACCEPT_JSON = 'application/dicom+json';

/** A churn study the gateway acknowledged, until it is deleted. */
export interface LiveStudy {
  study: SoakStudy;
  /** Readers in flight: a pinned study is not deleted yet. */
  pins: number;
}

/** The churn shared by all clients: acknowledged studies, oldest first. */
export class Churn {
  private generation = 0;
  readonly live: LiveStudy[] = [];
  stored = 0;
  deleted = 0;
  constructor(
    private readonly data: SoakData,
    /** Live churn studies above which the oldest are deleted. */
    readonly window: number,
  ) {}
  /** The next new study to store: a new generation of the next template. */
  next(): SoakStudy {
    this.generation++;
    return churnStudy(this.data.churn[this.generation % this.data.churn.length]!, this.generation);
  }
  /** The oldest live study if it is due for deletion and not being read, taken off the list. */
  takeOldest(): LiveStudy | undefined {
    if (this.live.length <= this.window || this.live[0]!.pins > 0) return undefined;
    return this.live.shift();
  }
  /** A live study among the newer half, pinned (unpin it when done). */
  pinRecent(pick: number): LiveStudy | undefined {
    if (this.live.length === 0) return undefined;
    const half = Math.floor(this.live.length / 2);
    const entry = this.live[half + Math.floor(pick * (this.live.length - half))]!;
    entry.pins++;
    return entry;
  }
}

/** What an operation needs: where, as whom, the data, the shared churn and the recorder. */
export interface OpContext {
  agent: Agent;
  dicomWebUrl: string;
  /** The Authorization header of this client (signs in or refreshes as needed). */
  authorization(): Promise<string>;
  data: SoakData;
  churn: Churn;
  rec: SoakRecorder;
  random: () => number;
}

/** A check: undefined when the answer is right, else what is wrong (or the expected refusal). */
type Check = (r: HttpResult) => Outcome;
const ok: Outcome = { kind: 'ok' };
const error = (what: string, r: HttpResult | undefined, more = ''): Outcome => ({
  kind: 'error',
  what,
  detail: `${r ? `HTTP ${r.status} ${r.body.toString('utf8', 0, Math.min(r.body.length, 160)).replace(/\s+/g, ' ')}` : ''}${more}`,
});

/** Sends one request, checks and records it; network failures are errors. */
async function call(ctx: OpContext, op: string, path: string, options: { method?: string; accept?: string; contentType?: string; body?: Buffer[] }, check: Check): Promise<HttpResult | undefined> {
  const headers: Record<string, string> = { authorization: await ctx.authorization() };
  if (options.accept) headers.accept = options.accept;
  if (options.contentType) headers['content-type'] = options.contentType;
  const started = performance.now();
  try {
    const r = await send(ctx.agent, `${ctx.dicomWebUrl}${path}`, { method: options.method, headers, body: options.body, timeoutMs: 60_000 });
    let outcome: Outcome;
    try {
      outcome = r.status >= 500 ? error(`${op}: HTTP ${r.status}`, r) : check(r);
    } catch (e) {
      outcome = error(`${op}: unreadable answer`, r, ` ${(e as Error).message}`);
    }
    ctx.rec.request(op, r.ms, outcome);
    return r;
  } catch (e) {
    ctx.rec.request(op, performance.now() - started, { kind: 'error', what: `${op}: network`, detail: (e as Error).message });
    return undefined;
  }
}

const pick = <T>(ctx: OpContext, items: readonly T[]): T => items[Math.floor(ctx.random() * items.length)]!;
const instancePath = (i: BenchInstance): string => `/studies/${i.study}/series/${i.series}/instances/${i.sop}`;
const status = (op: string, want: number, r: HttpResult): Outcome | undefined => (r.status === want ? undefined : error(`${op}: HTTP ${r.status} (expected ${want})`, r));

function onePart(op: string, r: HttpResult, expected: Buffer): Outcome {
  const bad = status(op, 200, r);
  if (bad) return bad;
  const boundary = boundaryOf(r.headers['content-type']);
  if (!boundary) return error(`${op}: not multipart/related`, r);
  const parts = parseMultipart(r.body, boundary);
  if (parts.length !== 1) return error(`${op}: ${parts.length} parts`, r);
  return parts[0]!.body.equals(expected) ? ok : error(`${op}: bytes differ`, undefined, `${parts[0]!.body.length} bytes, expected ${expected.length}`);
}

function jsonCount(op: string, r: HttpResult, expected: number): Outcome {
  const bad = status(op, 200, r);
  if (bad) return bad;
  const json = r.body.length === 0 ? [] : (JSON.parse(r.body.toString('utf8')) as unknown);
  if (!Array.isArray(json)) return error(`${op}: not a JSON array`, r);
  return json.length === expected ? ok : error(`${op}: ${json.length} results (expected ${expected})`, r);
}

/** WADO-RS of one instance of `studies`; the part must be the stored bytes. */
export async function wado(ctx: OpContext, studies: readonly SoakStudy[], op = 'wado-instance'): Promise<void> {
  const inst = pick(ctx, pick(ctx, studies).instances);
  await call(ctx, op, instancePath(inst), { accept: ACCEPT_INSTANCE }, (r) => onePart(op, r, inst.bytes));
}

/** Frame 1 of one instance of `studies`; the part must be the sent pixels. */
export async function frame(ctx: OpContext, studies: readonly SoakStudy[]): Promise<void> {
  const inst = pick(ctx, pick(ctx, studies).instances);
  const pixels = inst.bytes.subarray(inst.pixelOffset, inst.pixelOffset + inst.frameBytes);
  await call(ctx, 'frames', `${instancePath(inst)}/frames/1`, { accept: ACCEPT_FRAMES }, (r) => onePart('frames', r, pixels));
}

/** Study metadata (DICOM JSON): one object per instance. */
export async function metadata(ctx: OpContext, studies: readonly SoakStudy[]): Promise<void> {
  const s = pick(ctx, studies);
  await call(ctx, 'metadata', `/studies/${s.study}/metadata`, { accept: ACCEPT_JSON }, (r) => jsonCount('metadata', r, s.instances.length));
}

/**
 * A QIDO query at study, series or instance level over the resident studies `visible` (those this
 * subject may see), with filters; the number of results must be exact.
 */
export async function qido(ctx: OpContext, visible: readonly SoakStudy[]): Promise<void> {
  const s = pick(ctx, visible);
  const prefix = s.patientID.slice(0, 6); // SOAK-A or SOAK-B
  const sameInstitution = visible.filter((v) => v.institution === s.institution);
  const queries: Array<{ op: string; path: string; expect: number }> = [
    { op: 'qido-studies', path: `/studies?PatientID=${s.patientID}`, expect: 1 },
    { op: 'qido-studies', path: `/studies?PatientID=${prefix}*&StudyDate=20240101-20240131`, expect: sameInstitution.length },
    { op: 'qido-studies', path: `/studies?PatientName=Soak*&includefield=StudyDescription`, expect: visible.length },
    { op: 'qido-series', path: `/studies/${s.study}/series?Modality=CT`, expect: s.series.length },
    { op: 'qido-series', path: `/series?StudyInstanceUID=${s.study}&SeriesNumber=1`, expect: 1 },
    { op: 'qido-instances', path: `/studies/${s.study}/series/${s.series[0]}/instances`, expect: s.instances.filter((i) => i.series === s.series[0]).length },
    { op: 'qido-instances', path: `/studies/${s.study}/instances?InstanceNumber=3`, expect: s.series.length },
  ];
  const q = pick(ctx, queries);
  await call(ctx, q.op, q.path, { accept: ACCEPT_JSON }, (r) => jsonCount(q.op, r, q.expect));
}

/** STOW-RS of a new churn study (all its instances in one request); on success it becomes live. */
export async function stowChurn(ctx: OpContext): Promise<void> {
  const s = ctx.churn.next();
  const body = stowBody(s.instances.map((i) => i.bytes));
  const r = await call(ctx, 'stow', '/studies', { method: 'POST', accept: ACCEPT_JSON, contentType: body.contentType, body: body.chunks }, (res) => {
    const bad = status('stow', 200, res);
    if (bad) return bad;
    const json = JSON.parse(res.body.toString('utf8')) as Record<string, { Value?: unknown[] }>;
    const stored = json['00081199']?.Value?.length ?? 0;
    return stored === s.instances.length && !json['00081198'] ? ok : error(`stow: ${stored} of ${s.instances.length} stored`, res);
  });
  if (r?.status === 200) {
    ctx.churn.live.push({ study: s, pins: 0 });
    ctx.churn.stored++;
  }
}

/** WADO of an instance of a recently stored churn study: what was acknowledged is served, byte for byte. */
export async function readBack(ctx: OpContext): Promise<boolean> {
  const entry = ctx.churn.pinRecent(ctx.random());
  if (!entry) return false;
  try {
    await wado(ctx, [entry.study], 'wado-churn');
  } finally {
    entry.pins--;
  }
  return true;
}

/** DELETE of the oldest churn study beyond the window, then a QIDO that finds it no more. */
export async function deleteOldest(ctx: OpContext): Promise<boolean> {
  const entry = ctx.churn.takeOldest();
  if (!entry) return false;
  const study = entry.study.study;
  const r = await call(ctx, 'delete', `/studies/${study}`, { method: 'DELETE' }, (res) => status('delete', 204, res) ?? ok);
  if (r?.status === 204) ctx.churn.deleted++;
  await call(ctx, 'qido-deleted', `/studies?StudyInstanceUID=${study}`, { accept: ACCEPT_JSON }, (res) => jsonCount('qido-deleted', res, 0));
  return true;
}

/** A request the policy must refuse, and how: `status` and, for STOW, every instance failed. */
export async function expectDenied(ctx: OpContext, who: { label: string; institution: string }, kind: 'read-foreign' | 'qido-foreign' | 'stow-foreign' | 'search-modality'): Promise<void> {
  const what = `${who.label} ${kind}`;
  const foreign = who.institution === ctx.data.residentA[0]!.institution ? ctx.data.residentB : ctx.data.residentA;
  const denied = (r: HttpResult, want: number): Outcome => (r.status === want ? { kind: 'denied', what: `${what}: ${want}` } : error(`${what}: HTTP ${r.status} (expected refusal ${want})`, r));
  switch (kind) {
    case 'read-foreign': {
      // A study of the other institution answers 404, as if it did not exist (denied: not-found).
      const inst = pick(ctx, pick(ctx, foreign).instances);
      await call(ctx, 'denied-read', instancePath(inst), { accept: ACCEPT_INSTANCE }, (r) => denied(r, 404));
      return;
    }
    case 'qido-foreign': {
      // The other institution's patients are filtered out of searches: an empty answer.
      const s = pick(ctx, foreign);
      await call(ctx, 'denied-qido', `/studies?PatientID=${s.patientID}`, { accept: ACCEPT_JSON }, (r) => {
        const count = jsonCount('denied-qido', r, 0);
        return count.kind === 'ok' ? { kind: 'denied', what: `${what}: 200 []` } : count;
      });
      return;
    }
    case 'stow-foreign': {
      const body = stowBody(ctx.data.churnForeign.instances.map((i) => i.bytes));
      await call(ctx, 'denied-stow', '/studies', { method: 'POST', accept: ACCEPT_JSON, contentType: body.contentType, body: body.chunks }, (r) => denied(r, 409));
      return;
    }
    case 'search-modality':
      await call(ctx, 'denied-search', '/studies?PatientID=SOAK-A-1', { accept: ACCEPT_JSON }, (r) => denied(r, 403));
      return;
  }
}
