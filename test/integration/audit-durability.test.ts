/**
 * Records of completed responses survive a worker killed with SIGKILL: the gateway (the CLI, two
 * worker processes) answers reads, and the workers are killed as soon as the responses are in; the
 * audit trail holds every one of those reads and still verifies. The same holds for a read followed
 * on its keep-alive connection by a request that once ended the worker (`GET //`).
 */
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { stow } from '../support/dicomweb.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { childPids, running, until } from '../support/processes.js';
import { readTrail } from '../support/trail.js';

/** GETs `url` with a request id on `agent`; resolves with the status once the whole body is in. */
function get(url: string, requestId: string, agent: Agent, accept = 'application/dicom+json'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers: { 'X-Request-Id': requestId, Accept: accept } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('audit records of completed responses', { timeout: 120_000 }, () => {
  let gw: RunningGateway;
  const study = newUid();
  let instanceUrl: string;

  before(async () => {
    gw = await startGateway({ env: { AEGIS_WORKERS: '2' } });
    await until(() => childPids(gw.pid).length === 2, 'two workers');
    const stored = await stow(gw.dicomWebUrl, [syntheticInstance({ studyInstanceUID: study, seed: 5 })]);
    assert.equal(stored.status, 200);
    instanceUrl = stored.json!['00081199'].Value[0]['00081190'].Value[0] as string;
  });
  after(async () => {
    await gw?.stop();
  });

  it('survive SIGKILL of the workers right after the responses completed', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const reads = [
      [`${gw.dicomWebUrl}/studies?StudyInstanceUID=${study}`, 'application/dicom+json'],
      [`${gw.dicomWebUrl}/studies/${study}/metadata`, 'application/dicom+json'],
      [instanceUrl, 'multipart/related; type="application/dicom"; transfer-syntax=*'],
      [`${instanceUrl}/frames/1`, 'multipart/related; type="application/octet-stream"; transfer-syntax=*'],
      [`${gw.dicomWebUrl}/studies/${study}/series`, 'application/dicom+json'],
    ];
    const statuses = await Promise.all(reads.map(([url, accept], i) => get(url, `durable-${i}`, agent, accept)));
    // The read, then on the same connection a request that once ended the worker.
    const statusOfDoubleSlash = await get(`${gw.url}//`, 'durable-slash', new Agent({ keepAlive: true, maxSockets: 1 }));
    const workers = childPids(gw.pid);
    for (const pid of workers) process.kill(pid, 'SIGKILL');
    agent.destroy();
    assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
    assert.equal(statusOfDoubleSlash, 404);
    await until(() => workers.every((pid) => !running(pid)), 'the killed workers to be gone');

    const { events, verification } = await readTrail(gw.dataDir);
    const recorded = (id: string) => events.find((e) => e.requestId === id);
    for (const [i, [url]] of reads.entries()) {
      const event = recorded(`durable-${i}`);
      assert.ok(event, `the read ${url} is in the audit trail after SIGKILL`);
      assert.equal(event.http?.status, 200);
      assert.equal(event.outcome, 'success');
      assert.ok(['search', 'read', 'export'].includes(event.action), event.action);
    }
    assert.equal(recorded('durable-slash')?.http?.status, 404, 'the request after the read is recorded too');
    assert.equal(verification.ok, true, JSON.stringify(verification));
  });
});
