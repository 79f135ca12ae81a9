/**
 * Scrub on a schedule inside the gateway (`scrub.intervalHours`): each run is in the audit trail
 * (integrity, operation scrub): success while everything is whole, failure naming the fragments of
 * a bundle deleted from its backend behind the gateway's back (and counted in the metrics). While another live process holds the lock
 * file, this gateway does not scrub; once that process is gone, it takes the lock over.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { stow } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { readTrail, type TrailEvent } from '../support/trail.js';

/** About 2.2 s (a lock older than two intervals, 4.3 s, counts as abandoned). */
const INTERVAL_HOURS = 0.0006;

describe('scheduled scrub', { timeout: 120_000 }, () => {
  let gw: TestGateway;

  before(async () => {
    gw = await startTestGateway({ scrub: { intervalHours: INTERVAL_HOURS } });
    const study = newUid();
    const instances = [1, 2].map((seed) => syntheticInstance({ studyInstanceUID: study, seriesInstanceUID: newUid(), sopInstanceUID: newUid(), rows: 16, columns: 16, seed }));
    assert.equal((await stow(gw.dicomWebUrl, instances)).status, 200);
  });
  after(async () => {
    await gw?.stop();
  });

  const scrubs = async (): Promise<TrailEvent[]> => (await readTrail(gw.dataDir)).events.filter((e) => e.kind === 'integrity' && e.operation === 'scrub');

  async function until(check: (events: TrailEvent[]) => boolean, what: string, ms = 30_000): Promise<TrailEvent[]> {
    const end = Date.now() + ms;
    for (;;) {
      const events = await scrubs();
      if (check(events)) return events;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(events.map((e) => [e.outcome, e.reason]))}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  it('records a whole store, then the bundle of fragments deleted behind its back', async () => {
    const [whole] = await until((events) => events.some((e) => e.outcome === 'success'), 'a scrub of a whole store');
    assert.match(whole.reason ?? '', /^2 instances, \d+ pieces, [\d.]+ MB checked: everything is whole$/);
    const folder = join(gw.dataDir, 'stores', 'local', 'f');
    const [ab] = await readdir(folder);
    const [victim] = await readdir(join(folder, ab));
    await rm(join(folder, ab, victim));
    const events = await until((found) => found.some((e) => e.outcome === 'failure'), 'a scrub that finds the missing fragment');
    const failed = events.find((e) => e.outcome === 'failure')!;
    // The file was the bundle of an instance's five fragments: each is missing, the instance unreadable.
    assert.match(failed.reason ?? '', /: 5 faults, 1 unreadable; (?:[\d.]+ \S+ on backend local missing; ){5}[\d.]+ unreadable: /);
    // Each failing run counts its fault and its unreadable instance in the metrics.
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    const counted = Number(/^aegis_integrity_failures_total\{source="scrub"\} (\d+)$/m.exec(metrics)?.[1]);
    assert.ok(counted >= 2 && counted % 2 === 0, `integrity failures counted by scrubs: ${counted}`);
  });

  it('leaves the scrub to another live process that holds the lock, and takes over a lock whose process is gone', async () => {
    const holder = spawn('sleep', ['60'], { stdio: 'ignore' });
    await new Promise((resolve) => holder.once('spawn', resolve));
    const lock = join(gw.dataDir, 'scrub.lock');
    // Take the lock between two runs, as the other process (exclusively: no run holds it then).
    for (;;) {
      try {
        await writeFile(lock, String(holder.pid), { flag: 'wx' });
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    const before = (await scrubs()).length;
    // Longer than an interval, shorter than the age at which a lock counts as abandoned.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const during = (await scrubs()).length;
    assert.equal(during, before, 'no scrub while another live process holds the lock');
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
    await until((events) => events.length > during, 'a scrub after the holder is gone');
  });
});
