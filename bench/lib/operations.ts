/**
 * The measured passes: STOW-RS (one or several instances per request), WADO-RS instance retrieval
 * with byte-exact verification, WADO-RS frame retrieval with verification against the sent pixel
 * data, and QIDO-RS queries with result-count checks. Each pass runs at a fixed concurrency on a
 * keep-alive agent and returns timings, byte counts and failures.
 */
import type { BenchInstance, BenchSet } from './dataset.js';
import { keepAliveAgent, runPool, send, type HttpResult } from './http.js';
import { boundaryOf, parseMultipart, stowBody } from './multipart.js';
import { percentile } from './stats.js';
import type { BenchServer } from './servers.js';

export const ACCEPT_INSTANCE = 'multipart/related; type="application/dicom"; transfer-syntax=*';
export const ACCEPT_FRAMES = 'multipart/related; type=application/octet-stream; transfer-syntax=*';
const ACCEPT_JSON = 'application/dicom+json';

/** The outcome of one pass on one server. */
export interface PassResult {
  requests: number;
  /** Instances stored or retrieved (frames for a frames pass, queries for QIDO). */
  items: number;
  /** Payload bytes: instance bytes for STOW/WADO, frame bytes, response bytes for QIDO. */
  bytes: number;
  wallMs: number;
  p50Ms: number;
  p95Ms: number;
  /** Requests that failed (network, status, framing, failed SOPs, wrong counts). */
  errors: number;
  /** Responses whose bytes differ from what was sent. */
  mismatches: number;
  /** The first few failure descriptions. */
  samples: string[];
}

class Tally {
  latencies: number[] = [];
  errors = 0;
  mismatches = 0;
  samples: string[] = [];
  bytes = 0;
  items = 0;
  fail(what: string, mismatch = false): void {
    if (mismatch) this.mismatches++;
    else this.errors++;
    if (this.samples.length < 5) this.samples.push(what);
  }
  result(requests: number, wallMs: number): PassResult {
    return {
      requests,
      items: this.items,
      bytes: this.bytes,
      wallMs,
      p50Ms: percentile(this.latencies, 50),
      p95Ms: percentile(this.latencies, 95),
      errors: this.errors,
      mismatches: this.mismatches,
      samples: this.samples,
    };
  }
}

function snippet(r: HttpResult): string {
  return `${r.status} ${r.body.toString('utf8', 0, Math.min(r.body.length, 200)).replace(/\s+/g, ' ')}`;
}

async function timed<T>(items: readonly T[], concurrency: number, tally: Tally, fn: (item: T) => Promise<void>): Promise<PassResult> {
  const started = performance.now();
  await runPool(items, concurrency, async (item) => {
    try {
      await fn(item);
    } catch (err) {
      tally.fail(`request failed: ${(err as Error).message}`);
    }
  });
  return tally.result(items.length, performance.now() - started);
}

/** STOW-RS of `instances`, `perRequest` instances per POST /studies. */
export async function stowPass(server: BenchServer, instances: readonly BenchInstance[], perRequest: number, concurrency: number): Promise<PassResult> {
  const batches: BenchInstance[][] = [];
  for (let i = 0; i < instances.length; i += perRequest) batches.push(instances.slice(i, i + perRequest));
  const agent = keepAliveAgent(concurrency);
  const tally = new Tally();
  try {
    return await timed(batches, concurrency, tally, async (batch) => {
      const body = stowBody(batch.map((b) => b.bytes));
      const r = await send(agent, `${server.stowUrl ?? server.dicomWebUrl}/studies`, {
        method: 'POST',
        headers: { ...server.headers, 'content-type': body.contentType, accept: ACCEPT_JSON },
        body: body.chunks,
      });
      tally.latencies.push(r.ms);
      if (r.status !== 200) return tally.fail(`STOW ${snippet(r)}`);
      try {
        const json = JSON.parse(r.body.toString('utf8')) as Record<string, { Value?: unknown[] }>;
        const failed = json['00081198']?.Value?.length ?? 0;
        if (failed > 0) return tally.fail(`STOW: ${failed} failed SOP(s)`);
      } catch {
        return tally.fail(`STOW: response is not DICOM JSON: ${snippet(r)}`);
      }
      tally.items += batch.length;
      tally.bytes += batch.reduce((n, b) => n + b.bytes.length, 0);
    });
  } finally {
    agent.destroy();
  }
}

function onePart(r: HttpResult, what: string, tally: Tally): Buffer | null {
  if (r.status !== 200) {
    tally.fail(`${what} ${snippet(r)}`);
    return null;
  }
  const boundary = boundaryOf(r.headers['content-type']);
  if (!boundary) {
    tally.fail(`${what}: not multipart/related: ${r.headers['content-type']}`);
    return null;
  }
  try {
    const parts = parseMultipart(r.body, boundary);
    if (parts.length !== 1) {
      tally.fail(`${what}: ${parts.length} parts instead of 1`);
      return null;
    }
    return parts[0]!.body;
  } catch (err) {
    tally.fail(`${what}: ${(err as Error).message}`);
    return null;
  }
}

const instanceUrl = (server: BenchServer, i: BenchInstance): string => `${server.dicomWebUrl}/studies/${i.study}/series/${i.series}/instances/${i.sop}`;

/** WADO-RS of every instance; the single part must equal the stored bytes exactly. */
export async function wadoPass(server: BenchServer, instances: readonly BenchInstance[], concurrency: number): Promise<PassResult> {
  const agent = keepAliveAgent(concurrency);
  const tally = new Tally();
  try {
    return await timed(instances, concurrency, tally, async (inst) => {
      const r = await send(agent, instanceUrl(server, inst), { headers: { ...server.headers, accept: ACCEPT_INSTANCE } });
      tally.latencies.push(r.ms);
      const part = onePart(r, `WADO ${inst.sop}`, tally);
      if (!part) return;
      if (!part.equals(inst.bytes)) return tally.fail(`WADO ${inst.sop}: ${part.length} bytes differ from the ${inst.bytes.length} sent`, true);
      tally.items++;
      tally.bytes += part.length;
    });
  } finally {
    agent.destroy();
  }
}

/** WADO-RS frame retrieval; each answer must equal the sent native pixel bytes of that frame. */
export async function framesPass(server: BenchServer, requests: ReadonlyArray<{ instance: BenchInstance; frame: number }>, concurrency: number): Promise<PassResult> {
  const agent = keepAliveAgent(concurrency);
  const tally = new Tally();
  try {
    return await timed(requests, concurrency, tally, async ({ instance, frame }) => {
      const r = await send(agent, `${instanceUrl(server, instance)}/frames/${frame}`, { headers: { ...server.headers, accept: ACCEPT_FRAMES } });
      tally.latencies.push(r.ms);
      const part = onePart(r, `frames ${instance.sop}/${frame}`, tally);
      if (!part) return;
      const start = instance.pixelOffset + (frame - 1) * instance.frameBytes;
      if (!part.equals(instance.bytes.subarray(start, start + instance.frameBytes))) {
        return tally.fail(`frame ${frame} of ${instance.sop}: ${part.length} bytes differ from the ${instance.frameBytes} sent`, true);
      }
      tally.items++;
      tally.bytes += part.length;
    });
  } finally {
    agent.destroy();
  }
}

/** A QIDO query and the number of results it must return (`atLeast` when other data may match). */
export interface Query {
  path: string;
  expect: number;
  atLeast?: boolean;
}

/** Study-level and instance-level queries for a set. */
export function qidoQueries(set: BenchSet): { studies: Query[]; instances: Query[] } {
  const studies: Query[] = [{ path: '/studies', expect: set.studies.length, atLeast: true }];
  const instances: Query[] = [];
  for (const s of set.studies) {
    studies.push({ path: `/studies?StudyInstanceUID=${s.study}`, expect: 1 });
    studies.push({ path: `/studies?PatientID=${encodeURIComponent(s.patientID)}`, expect: set.studies.filter((x) => x.patientID === s.patientID).length });
    for (const se of s.series) instances.push({ path: `/studies/${s.study}/series/${se.series}/instances`, expect: se.instances });
  }
  return { studies, instances };
}

/** Runs `queries` repeatedly (at least `minRequests` in all) and checks each result count. */
export async function qidoPass(server: BenchServer, queries: readonly Query[], minRequests: number, concurrency: number): Promise<PassResult> {
  const repeat = Math.max(1, Math.ceil(minRequests / queries.length));
  const all = Array.from({ length: repeat }, () => queries).flat();
  const agent = keepAliveAgent(concurrency);
  const tally = new Tally();
  try {
    return await timed(all, concurrency, tally, async (q) => {
      const r = await send(agent, `${server.dicomWebUrl}${q.path}`, { headers: { ...server.headers, accept: ACCEPT_JSON } });
      tally.latencies.push(r.ms);
      if (r.status !== 200) return tally.fail(`QIDO ${q.path}: ${snippet(r)}`);
      let count: number;
      try {
        const json = JSON.parse(r.body.toString('utf8')) as unknown;
        if (!Array.isArray(json)) return tally.fail(`QIDO ${q.path}: not a JSON array`);
        count = json.length;
      } catch {
        return tally.fail(`QIDO ${q.path}: invalid JSON: ${snippet(r)}`);
      }
      if (q.atLeast ? count < q.expect : count !== q.expect) return tally.fail(`QIDO ${q.path}: ${count} results, expected ${q.atLeast ? 'at least ' : ''}${q.expect}`);
      tally.items++;
      tally.bytes += r.body.length;
    });
  } finally {
    agent.destroy();
  }
}
