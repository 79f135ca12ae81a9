/**
 * Runs a fuzz target (a module of test/fuzz/targets/ exporting `target`) in a worker thread and
 * watches it: when no new case starts for three case budgets, the worker is stopped and the run
 * fails as a hang, naming the case number and the seed that reproduce it. A crash of the worker
 * (an uncaught exception, running out of memory) fails the run too.
 */
import { Worker } from 'node:worker_threads';
import { CASE_BUDGET_MS, FUZZ_RUNS, FUZZ_SEED } from './settings.js';

/** What a passing run did. */
export interface FuzzRun {
  runs: number;
  ms: number;
}

/** Runs the target module at `target` (a file URL); rejects with fast-check's report on failure. */
export function runFuzzTarget(target: URL, runs = FUZZ_RUNS): Promise<FuzzRun> {
  const heartbeat = new SharedArrayBuffer(4);
  const beats = new Int32Array(heartbeat);
  const worker = new Worker(new URL('./worker-entry.mjs', import.meta.url), {
    workerData: { target: target.href, runs, seed: FUZZ_SEED, budgetMs: CASE_BUDGET_MS, heartbeat },
  });
  return new Promise<FuzzRun>((resolve, reject) => {
    let last = -1;
    let still = 0;
    const watch = setInterval(() => {
      const now = Atomics.load(beats, 0);
      still = now === last ? still + 250 : 0;
      last = now;
      if (still >= 3 * CASE_BUDGET_MS) {
        finish(new Error(`hang: case ${now} of ${target.pathname} ran for more than ${still} ms (reproduce with AEGIS_FUZZ_SEED=${FUZZ_SEED} AEGIS_FUZZ_RUNS=${now})`));
        void worker.terminate();
      }
    }, 250);
    let done = false;
    const finish = (error: Error | undefined, run?: FuzzRun): void => {
      if (done) return;
      done = true;
      clearInterval(watch);
      if (error) reject(error);
      else resolve(run!);
    };
    worker.on('message', (message: { failure?: string } & Partial<FuzzRun>) => {
      if (message.failure !== undefined) finish(new Error(`${target.pathname} (seed ${FUZZ_SEED}):\n${message.failure}`));
      else finish(undefined, { runs: message.runs!, ms: message.ms! });
    });
    worker.on('error', (error) => finish(new Error(`the fuzz worker of ${target.pathname} crashed (seed ${FUZZ_SEED}): ${error.stack ?? error.message}`)));
    worker.on('exit', (code) => finish(new Error(`the fuzz worker of ${target.pathname} exited with ${code} before reporting`)));
  });
}
