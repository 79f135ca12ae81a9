/**
 * The `dicomweb` backend's configuration: its keys, its required `auth`, and credentials from the
 * owner-only file or the environment, never a default and never the configuration file.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { dicomwebAuthorization, loadConfig } from '../../gateway/config.js';
import { configProblems } from '../support/config-problems.js';

const pacs = { name: 'pacs-1', kind: 'dicomweb', url: 'http://127.0.0.1:8042/dicom-web', orthancUrl: 'http://127.0.0.1:8042', auth: 'none' };

describe('dicomweb backends', () => {
  it('a dicomweb backend with a placement that uses it loads as written, timeout defaulted', () => {
    const config = loadConfig({ object: { backends: [{ name: 'local', kind: 'fs' }, pacs], placement: { instances: 'local', regions: ['pacs-1', 'local'] } }, env: {} });
    assert.deepEqual(config.backends[1], { ...pacs, timeoutSeconds: 30, retries: config.backends[0].retries, breaker: config.backends[0].breaker });
  });

  it('auth is required; bad URLs and unknown keys are reported', () => {
    const problems = configProblems({
      backends: [
        { name: 'local', kind: 'fs' },
        { name: 'p', kind: 'dicomweb', url: 'nope', orthancUrl: 'also nope', extra: 1 },
      ],
    }).join('\n');
    for (const expected of [/backends\.1\.auth/, /backends\.1\.url/, /backends\.1\.orthancUrl/, /backends\.1: Unrecognized key: "extra"/]) assert.match(problems, expected);
  });

  it('basic and bearer credentials come from the environment or the owner-only file, exactly one of them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aegis-config-'));
    const basicFile = join(dir, 'basic.json');
    writeFileSync(basicFile, JSON.stringify({ username: 'aegis', password: 'pw' }), { mode: 0o600 });
    const tokenFile = join(dir, 'token.json');
    writeFileSync(tokenFile, JSON.stringify({ token: 'tok' }), { mode: 0o600 });
    const env = { AEGIS_DICOMWEB_PACS_1_USERNAME: 'u', AEGIS_DICOMWEB_PACS_1_PASSWORD: 'p' };
    assert.deepEqual(dicomwebAuthorization({ name: 'pacs-1', auth: 'basic' }, env), { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` });
    assert.deepEqual(dicomwebAuthorization({ name: 'pacs-1', auth: 'basic', credentialsFile: basicFile }, {}), { authorization: `Basic ${Buffer.from('aegis:pw').toString('base64')}` });
    assert.deepEqual(dicomwebAuthorization({ name: 'pacs-1', auth: 'bearer', credentialsFile: tokenFile }, {}), { authorization: 'Bearer tok' });
    assert.deepEqual(dicomwebAuthorization({ name: 'pacs-1', auth: 'bearer' }, { AEGIS_DICOMWEB_PACS_1_TOKEN: 't2' }), { authorization: 'Bearer t2' });
    assert.deepEqual(dicomwebAuthorization({ name: 'pacs-1', auth: 'none' }, {}), {});
  });

  it('missing, half, doubled, world-readable or unwanted credentials are refused at load, all reported', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aegis-config-'));
    const open = join(dir, 'open.json');
    writeFileSync(open, JSON.stringify({ token: 'x' }));
    chmodSync(open, 0o644);
    const problems = configProblems(
      {
        backends: [
          { name: 'local', kind: 'fs' },
          { ...pacs, name: 'a', auth: 'basic' },
          { ...pacs, name: 'b', auth: 'bearer', credentialsFile: open },
          { ...pacs, name: 'c', auth: 'none' },
          { ...pacs, name: 'd', auth: 'basic', credentialsFile: open },
        ],
      },
      { AEGIS_DICOMWEB_A_USERNAME: 'only-half', AEGIS_DICOMWEB_C_TOKEN: 'unwanted', AEGIS_DICOMWEB_D_PASSWORD: 'x' },
    );
    assert.equal(problems.length, 4, problems.join('\n'));
    assert.match(problems[0], /^backends\.1 \(a\): no complete basic credentials: set AEGIS_DICOMWEB_A_USERNAME and AEGIS_DICOMWEB_A_PASSWORD/);
    assert.match(problems[1], /^backends\.2 \(b\): credentialsFile .* is readable by others than its owner/);
    assert.match(problems[2], /^backends\.3 \(c\): auth is none, but credentials are given/);
    assert.match(problems[3], /^backends\.4 \(d\): credentials come from credentialsFile or from AEGIS_DICOMWEB_D_USERNAME/);
  });
});
