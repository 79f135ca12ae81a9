/**
 * Runs one fuzz target inside a worker thread (see run-target.ts): fast-check with the configured
 * runs and seed; each case bumps a shared counter (the heartbeat the main thread watches) and must
 * finish within the case budget. Posts `{ runs, ms }`, or `{ failure }` with fast-check's report
 * (seed, path and the shrunk counterexample).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import type { FuzzTarget } from './target.js';

interface Job {
  target: string;
  runs: number;
  seed: number;
  budgetMs: number;
  heartbeat: SharedArrayBuffer;
}

const job = workerData as Job;
const beats = new Int32Array(job.heartbeat);
const { target } = (await import(job.target)) as { target: FuzzTarget<unknown> };

function overBudget(started: number): void {
  const ms = performance.now() - started;
  if (ms > job.budgetMs) throw new Error(`the case took ${Math.round(ms)} ms, more than the budget of ${job.budgetMs} ms (a near-hang)`);
}

const property = fc.asyncProperty(target.arbitrary, async (input) => {
  Atomics.add(beats, 0, 1);
  const started = performance.now();
  await target.check(input);
  overBudget(started);
});

const started = performance.now();
const details = await fc.check(property, { numRuns: job.runs, seed: job.seed, endOnFailure: false });
const ms = Math.round(performance.now() - started);
if (details.failed) {
  const error = details.errorInstance instanceof Error ? (details.errorInstance.stack ?? details.errorInstance.message) : String(details.errorInstance);
  parentPort!.postMessage({ failure: `${fc.defaultReportMessage(details) ?? 'failed'}\nError: ${error}` });
} else parentPort!.postMessage({ runs: details.numRuns, ms });
