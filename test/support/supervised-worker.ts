/**
 * A worker process for the supervisor test with real processes
 * (`test/unit/cli/worker-supervisor-cluster.test.ts`), forked by the test acting as the primary:
 * it says it listens, exits on the primary's shutdown message, and on `test-drop-channel` closes
 * its channel to the primary yet keeps running (as a worker that is dying looks to the primary
 * between the close of its channel and its exit).
 */
import cluster from 'node:cluster';
import { SHUTDOWN } from '../../gateway/cli/worker-supervisor.js';

const alive = setInterval(() => undefined, 60_000);
process.on('message', (message: unknown) => {
  if (message === SHUTDOWN) {
    clearInterval(alive);
    process.exit(0);
  }
  if (message === 'test-drop-channel') cluster.worker!.disconnect();
});
process.send!({ type: 'listening', url: 'http://127.0.0.1:0' });
