import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Worker } from 'node:cluster';
import { describe, it } from 'node:test';
import pino from 'pino';
import { WorkerSupervisor } from '../../../gateway/cli/worker-supervisor.js';

/** A cluster of fake workers: the test says when each listens, fails or dies. */
class FakeCluster extends EventEmitter {
  readonly workers: Record<number, Worker> = {};
  private nextId = 1;
  fork = (): Worker => {
    const worker = Object.assign(new EventEmitter(), {
      id: this.nextId++,
      process: { pid: 1000 + this.nextId },
      dead: false,
      isDead() {
        return this.dead;
      },
      send: () => true,
      isConnected() {
        return !this.dead;
      },
      kill: () => this.die(worker as unknown as Worker, null, 'SIGTERM'),
    });
    this.workers[worker.id] = worker as unknown as Worker;
    return worker as unknown as Worker;
  };
  listen(id: number) {
    this.emit('message', this.workers[id], { type: 'listening', url: 'http://127.0.0.1:1' });
  }
  die(worker: Worker, code: number | null, signal: string | null) {
    (worker as unknown as { dead: boolean }).dead = true;
    delete this.workers[worker.id];
    worker.emit('exit', code, signal);
    this.emit('exit', worker, code, signal);
  }
}

function setup(workers: number) {
  const cluster = new FakeCluster();
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const supervisor = new WorkerSupervisor({ cluster, fork: cluster.fork, workers, logger, backoff: { initialMs: 5, maxMs: 40, stableMs: 60_000 } });
  return { cluster, lines, supervisor };
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('WorkerSupervisor', () => {
  it('replaces a first worker killed before it listened, then starts the others once one listens', async () => {
    const { cluster, supervisor, lines } = setup(2);
    const started = supervisor.start();
    cluster.die(cluster.workers[1], null, 'SIGKILL');
    await settle(20);
    assert.deepEqual(Object.keys(cluster.workers), ['2']);
    cluster.listen(2);
    assert.deepEqual(Object.keys(cluster.workers), ['2', '3']);
    cluster.listen(3);
    assert.equal(await started, 'http://127.0.0.1:1');
    assert.deepEqual(
      lines.map((l) => [l.msg, l.crashesInARow, l.retryInMs]),
      [['a worker exited (signal SIGKILL); starting another in 0.005 s', 1, 5]],
    );
  });

  it('backs off while workers keep dying after the start, up to the bound, and never gives up', async () => {
    const { cluster, supervisor, lines } = setup(1);
    const started = supervisor.start();
    cluster.listen(1);
    await started;
    for (let i = 0; i < 6; i++) {
      const [worker] = Object.values(cluster.workers);
      cluster.die(worker, 1, null);
      await settle(60);
    }
    assert.equal(Object.keys(cluster.workers).length, 1, 'a worker is running');
    assert.deepEqual(
      lines.map((l) => l.retryInMs),
      [5, 10, 20, 40, 40, 40],
    );
    assert.match(String(lines[5].msg), /^worker crashed 6 times in a row within \d+\.\d s of its start \(exit code 1\); retrying in 0\.04 s$/);
    await supervisor.stop();
  });

  it('stops a first start-up that a worker reports failed, without forking again', async () => {
    const { cluster, supervisor, lines } = setup(2);
    const started = supervisor.start();
    cluster.emit('message', cluster.workers[1], { type: 'start-failed', reason: 'the catalog cannot be opened' });
    cluster.die(cluster.workers[1], 1, null);
    await assert.rejects(started, { message: 'a worker could not start: the catalog cannot be opened' });
    await settle(20);
    assert.deepEqual(Object.keys(cluster.workers), []);
    assert.deepEqual(
      lines.map((l) => l.msg),
      ['a worker could not start; stopping the gateway'],
    );
  });

  it('replaces a worker whose start-up failed once the gateway has listened', async () => {
    const { cluster, supervisor } = setup(1);
    const started = supervisor.start();
    cluster.listen(1);
    await started;
    cluster.die(cluster.workers[1], null, 'SIGKILL');
    await settle(20);
    cluster.emit('message', cluster.workers[2], { type: 'start-failed', reason: 'busy' });
    cluster.die(cluster.workers[2], 1, null);
    await settle(40);
    assert.deepEqual(Object.keys(cluster.workers), ['3']);
    await supervisor.stop();
  });
});
