/**
 * What the soak records and how it is judged: every request's latency and outcome in time
 * buckets (a minute by default), the whole gateway's RSS samples in the same buckets, and the
 * verdict of the acceptance: no errors, and p99 latency and RSS flat (the last bucket within a
 * tolerance of the second; the first is warm-up).
 */
import { fmt, percentile, table } from './stats.js';

/** How one request ended: as it should, refused as the policy says it must be, or wrong. */
export type Outcome = { kind: 'ok' } | { kind: 'denied'; what: string } | { kind: 'error'; what: string; detail: string };

/** Per operation within one bucket. */
interface OpBucket {
  latenciesMs: number[];
  ok: number;
  denied: number;
  errors: number;
}

/** One time bucket. */
interface Bucket {
  ops: Map<string, OpBucket>;
  /** Expected refusals by what they were (e.g. `radiologist-b reads A: 404`). */
  denials: Map<string, number>;
  /** Errors by kind. */
  errors: Map<string, number>;
  rssSamples: number[];
  /** RSS of each gateway process at the bucket's largest sample (pid -> kind -> bytes). */
  rssAtMax: Record<string, Record<string, number>>;
  /** Free-form gauges (catalog bytes, live churn studies, ...), last value in the bucket. */
  gauges: Record<string, number>;
}

/** One bucket as reported. */
export interface BucketReport {
  index: number;
  fromS: number;
  requests: number;
  errors: number;
  denied: number;
  errorsByKind: Record<string, number>;
  denialsByKind: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  perOp: Record<string, { requests: number; errors: number; denied: number; p50Ms: number; p99Ms: number }>;
  rssMaxMB: number;
  rssLastMB: number;
  /** Per process (pid) at the largest sample: rss, anon (heaps), file (mapped files), shmem; MB. */
  rssAtMaxMB: Record<string, Record<string, number>>;
  gauges: Record<string, number>;
}

/** The acceptance verdict. */
export interface Verdict {
  pass: boolean;
  reasons: string[];
  /** last / second - 1 of overall p99 and of max RSS. */
  p99Change: number;
  rssChange: number;
}

/** Collects requests and RSS samples into buckets of `bucketMs` from `startedAt` (performance.now()). */
export class SoakRecorder {
  private readonly buckets: Bucket[] = [];
  readonly errorSamples: string[] = [];
  constructor(
    private readonly startedAt: number,
    readonly bucketMs: number,
  ) {}

  private bucket(at = performance.now()): Bucket {
    const index = Math.max(0, Math.floor((at - this.startedAt) / this.bucketMs));
    while (this.buckets.length <= index) this.buckets.push({ ops: new Map(), denials: new Map(), errors: new Map(), rssSamples: [], rssAtMax: {}, gauges: {} });
    return this.buckets[index]!;
  }

  /** Records one request of `op` that took `ms` and ended with `outcome`. */
  request(op: string, ms: number, outcome: Outcome): void {
    const b = this.bucket();
    const o = b.ops.get(op) ?? { latenciesMs: [], ok: 0, denied: 0, errors: 0 };
    b.ops.set(op, o);
    o.latenciesMs.push(ms);
    if (outcome.kind === 'ok') o.ok++;
    else if (outcome.kind === 'denied') {
      o.denied++;
      b.denials.set(outcome.what, (b.denials.get(outcome.what) ?? 0) + 1);
    } else {
      o.errors++;
      b.errors.set(outcome.what, (b.errors.get(outcome.what) ?? 0) + 1);
      if (this.errorSamples.length < 50) this.errorSamples.push(`${new Date().toISOString()} ${op}: ${outcome.what}: ${outcome.detail}`);
    }
  }

  /** Records one RSS sample of the whole gateway, with the RSS of each of its processes. */
  rss(total: number, perProcess: Record<string, Record<string, number>>): void {
    const b = this.bucket();
    if (b.rssSamples.length === 0 || total > Math.max(...b.rssSamples)) b.rssAtMax = perProcess;
    b.rssSamples.push(total);
  }

  /** Sets a gauge of the current bucket. */
  gauge(name: string, value: number): void {
    this.bucket().gauges[name] = value;
  }

  /** The buckets that have started, the last one possibly partial. */
  report(): BucketReport[] {
    return this.buckets.map((b, index) => {
      const all = [...b.ops.values()];
      const perOp: BucketReport['perOp'] = {};
      for (const [op, o] of [...b.ops].sort(([a], [c]) => a.localeCompare(c))) {
        perOp[op] = { requests: o.latenciesMs.length, errors: o.errors, denied: o.denied, p50Ms: percentile(o.latenciesMs, 50), p99Ms: percentile(o.latenciesMs, 99) };
      }
      const latencies = all.flatMap((o) => o.latenciesMs);
      const mb = (n: number) => Math.round((n / 1e6) * 10) / 10;
      return {
        index,
        fromS: (index * this.bucketMs) / 1000,
        requests: latencies.length,
        errors: all.reduce((n, o) => n + o.errors, 0),
        denied: all.reduce((n, o) => n + o.denied, 0),
        errorsByKind: Object.fromEntries(b.errors),
        denialsByKind: Object.fromEntries(b.denials),
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
        perOp,
        rssMaxMB: b.rssSamples.length > 0 ? mb(Math.max(...b.rssSamples)) : NaN,
        rssLastMB: b.rssSamples.length > 0 ? mb(b.rssSamples[b.rssSamples.length - 1]!) : NaN,
        rssAtMaxMB: Object.fromEntries(Object.entries(b.rssAtMax).map(([pid, kinds]) => [pid, Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, mb(v)]))])),
        gauges: { ...b.gauges },
      };
    });
  }
}

/**
 * The acceptance: no errors in any bucket; the overall p99 latency and the largest RSS sample of
 * the last bucket within `tolerance` (0.15: 15 %, either way) of the second bucket's. Needs at least
 * three buckets (the first is warm-up). `denialProblems`: refusals that were not the expected ones.
 */
export function verdict(buckets: readonly BucketReport[], tolerance: number, denialProblems: readonly string[]): Verdict {
  const reasons: string[] = [];
  const errors = buckets.reduce((n, b) => n + b.errors, 0);
  if (errors > 0) reasons.push(`${errors} error(s)`);
  reasons.push(...denialProblems);
  if (buckets.length < 3) {
    reasons.push(`only ${buckets.length} bucket(s): flatness needs at least 3 (the first is warm-up)`);
    return { pass: false, reasons, p99Change: NaN, rssChange: NaN };
  }
  const second = buckets[1]!;
  const last = buckets[buckets.length - 1]!;
  const p99Change = last.p99Ms / second.p99Ms - 1;
  const rssChange = last.rssMaxMB / second.rssMaxMB - 1;
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${fmt(x * 100, 1)} %`;
  if (!(Math.abs(p99Change) <= tolerance)) reasons.push(`p99 not flat: ${fmt(second.p99Ms)} ms in bucket 2, ${fmt(last.p99Ms)} ms in the last (${pct(p99Change)})`);
  if (!(Math.abs(rssChange) <= tolerance)) reasons.push(`RSS not flat: ${fmt(second.rssMaxMB)} MB in bucket 2, ${fmt(last.rssMaxMB)} MB in the last (${pct(rssChange)})`);
  return { pass: reasons.length === 0, reasons, p99Change, rssChange };
}

/** The console report: one line per bucket, then per operation p50/p99 per bucket. */
export function renderBuckets(buckets: readonly BucketReport[], bucketS: number): string {
  const head = ['from s', 'requests', 'req/s', 'errors', 'denied', 'p50 ms', 'p99 ms', 'RSS max MB', 'RSS last MB', 'heap MB', 'external MB', 'live studies', 'catalog MB', 'gateway CPU %', 'load 1m'];
  // CPU the gateway got in the bucket, in % of one core: on a shared machine, less CPU means
  // fewer requests served and longer queues for the same clients.
  const cpu = (i: number): number => ((buckets[i]!.gauges.gatewayCpuMs ?? NaN) - (i > 0 ? (buckets[i - 1]!.gauges.gatewayCpuMs ?? NaN) : 0)) / (bucketS * 10);
  const rows = buckets.map((b, i) => [
    String(b.fromS),
    String(b.requests),
    fmt(b.requests / bucketS),
    String(b.errors),
    String(b.denied),
    fmt(b.p50Ms),
    fmt(b.p99Ms),
    fmt(b.rssMaxMB),
    fmt(b.rssLastMB),
    // The V8 heap in use and the memory outside it (Buffers) at the bucket's end, as /metrics says.
    b.gauges.heapUsedBytes !== undefined ? fmt(b.gauges.heapUsedBytes / 1e6) : '',
    b.gauges.externalBytes !== undefined ? fmt(b.gauges.externalBytes / 1e6) : '',
    String(b.gauges.liveChurnStudies ?? ''),
    b.gauges.catalogBytes !== undefined ? fmt(b.gauges.catalogBytes / 1e6) : '',
    fmt(cpu(i), 0),
    fmt(b.gauges.load1 ?? NaN, 2),
  ]);
  const ops = [...new Set(buckets.flatMap((b) => Object.keys(b.perOp)))].sort();
  const opRows = ops.map((op) => [op, ...buckets.map((b) => (b.perOp[op] ? `${fmt(b.perOp[op].p50Ms)}/${fmt(b.perOp[op].p99Ms)} (${b.perOp[op].requests})` : '-'))]);
  return `${table(head, rows, 1)}\n\np50/p99 ms (requests) per operation and bucket:\n\n${table(['operation', ...buckets.map((b) => `${b.fromS} s`)], opRows, 1)}\n`;
}
