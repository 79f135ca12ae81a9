/**
 * The `aegis` command as users run it: usage and exit codes, configuration errors, worker
 * processes (one replaced when it dies), and graceful shutdown that finishes in-flight requests.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { retrieveAsStored, stow, stowBody } from '../support/dicomweb.js';
import { startGateway } from '../support/gateway.js';
import { childPids, running, until } from '../support/processes.js';

const BIN = fileURLToPath(new URL('../../bin/aegis.mjs', import.meta.url));

function aegis(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
}

describe('the aegis command', () => {
  it('prints its usage with --help (exit 0) and refuses an unknown command (exit 2)', () => {
    const help = aegis(['--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /usage: aegis <command>/);
    assert.match(help.stdout, /--data DIR/);
    const unknown = aegis(['frobnicate']);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
  });

  it('reports every configuration problem and exits 1', () => {
    const run = aegis(['start', '--port', '0', '--data', '/tmp/aegis-never-created'], { AEGIS_CONFIG: '/nonexistent/aegis.yaml', AEGIS_WORKERS: 'many' });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /invalid configuration/);
    assert.match(run.stderr, /cannot read configuration file \/nonexistent\/aegis\.yaml/);
    assert.match(run.stderr, /AEGIS_WORKERS: 'many'/);
    const port = aegis(['start', '--port', 'eighty']);
    assert.equal(port.status, 1);
    assert.match(port.stderr, /--port: 'eighty' is not a port number/);
  });

  it('reports every problem of the policy file and exits 1 before serving', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aegis-policy-cli-'));
    try {
      const policy = join(dir, 'policy.yaml');
      writeFileSync(policy, 'version: 1\nrules:\n  - id: x\n    subjects: { role: a }\n    actions: [fly]\n    resources: { colour: red }\n');
      writeFileSync(join(dir, 'aegis.json'), JSON.stringify({ policy }));
      const run = aegis(['start', '--port', '0', '--data', join(dir, 'data'), '--config', join(dir, 'aegis.json')]);
      assert.equal(run.status, 1, run.stderr);
      assert.match(run.stderr, /invalid policy/);
      assert.match(run.stderr, /rules\.0\.actions\.0 \(line 5\)/);
      assert.match(run.stderr, /'colour' is not a resource attribute/);
      assert.ok(!run.stderr.includes('    at '), 'no stack trace');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves from worker processes, replaces one that dies, and stops them all on SIGTERM', async () => {
    const gw = await startGateway({ env: { AEGIS_WORKERS: '2' } });
    try {
      await until(() => childPids(gw.pid).length === 2, 'two workers');
      const instance = syntheticInstance({ seed: 7 });
      const res = await stow(gw.dicomWebUrl, [instance]);
      assert.equal(res.status, 200);
      const url = res.json!['00081199'].Value[0]['00081190'].Value[0] as string;
      const [victim] = childPids(gw.pid);
      process.kill(victim, 'SIGKILL');
      await until(() => gw.logs.some((l) => l.includes('a worker exited')), 'the primary to notice');
      await until(() => gw.logs.some((l) => l.includes('a replacement worker is listening')), 'a replacement worker');
      assert.equal(childPids(gw.pid).length, 2);
      assert.ok(!childPids(gw.pid).includes(victim), 'the killed worker is gone');
      for (let i = 0; i < 4; i++) {
        const [part] = await retrieveAsStored(url);
        assert.ok(part.bytes.equals(instance), 'the instance is served after a worker was replaced');
      }
    } finally {
      const workers = childPids(gw.pid);
      await gw.stop();
      assert.equal(gw.process.exitCode, 0, `the primary exits 0 on SIGTERM (signal ${gw.process.signalCode})`);
      assert.equal(gw.logs.filter((l) => l.includes('"msg":"stopped"')).length, 3, 'the primary and both workers log that they stopped');
      for (const pid of workers) assert.ok(!running(pid), `worker ${pid} does not outlive the primary`);
    }
  });

  it('finishes an in-flight STOW on SIGTERM before it exits', async () => {
    const gw = await startGateway({ env: { AEGIS_WORKERS: '1' } });
    const instance = syntheticInstance({ studyInstanceUID: newUid(), seed: 8 });
    const { body, contentType } = stowBody([instance]);
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(`${gw.dicomWebUrl}/studies`, { method: 'POST', headers: { 'Content-Type': contentType, 'Content-Length': body.length } }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      });
      req.on('error', reject);
      req.write(body.subarray(0, 1000));
      // SIGTERM while the body is half sent, then send the rest.
      setTimeout(() => {
        gw.process.kill('SIGTERM');
        setTimeout(() => req.end(body.subarray(1000)), 300);
      }, 300);
    });
    const { status, text } = await response;
    assert.equal(status, 200, text);
    await gw.stop();
    assert.equal(gw.process.exitCode, 0);
    assert.ok(
      gw.logs.some((l) => l.includes('finishing in-flight requests')),
      'the shutdown was graceful',
    );
  });
});
