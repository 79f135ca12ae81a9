/**
 * The supervisor (`gateway/cli/worker-supervisor.ts`) over real worker processes, this test acting
 * as the primary: stopping the gateway while a listening worker's channel has closed but the
 * worker has not exited yet (it is dying) must not end the primary, whose other workers are still
 * finishing their requests.
 */
import assert from 'node:assert/strict';
import cluster from 'node:cluster';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { WorkerSupervisor } from '../../../gateway/cli/worker-supervisor.js';
import { createLogger } from '../../../gateway/logger.js';

const WORKER = fileURLToPath(new URL('../../support/supervised-worker.ts', import.meta.url));

describe('WorkerSupervisor with real workers', { timeout: 60_000 }, () => {
  cluster.setupPrimary({ exec: WORKER, execArgv: ['--import', 'tsx'], silent: false });
  after(() => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
  });

  it('stops a worker whose channel closed with SIGTERM instead of a message it cannot take, and the others with the message', async () => {
    const supervisor = new WorkerSupervisor({ cluster, fork: () => cluster.fork(), workers: 2, logger: createLogger('silent') });
    await supervisor.start();
    const [first, second] = Object.values(cluster.workers ?? {});
    const exits = new Map<number, [number | null, string | null]>();
    cluster.on('exit', (worker, code, signal) => exits.set(worker.id, [code, signal]));
    first!.send('test-drop-channel');
    await once(first!, 'disconnect');
    assert.deepEqual([first!.isConnected(), first!.isDead(), supervisor.listening.has(first!.id)], [false, false, true]);
    await supervisor.stop();
    assert.deepEqual(
      [exits.get(first!.id), exits.get(second!.id)],
      [
        [null, 'SIGTERM'],
        [0, null],
      ],
    );
  });
});
