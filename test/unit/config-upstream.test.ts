/**
 * The `upstream` section (proxy mode): defaults, credentials from exactly one place (environment
 * or an owner-only file, never the URL), and every bad value refused at start-up with its reason.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig, upstreamAuthorization } from '../../gateway/config.js';
import { configProblems } from '../support/config-problems.js';

const URL_ = 'http://127.0.0.1:8042/dicom-web';

describe('upstream configuration', () => {
  it('is absent by default and has documented defaults when present', () => {
    assert.equal(loadConfig({ env: {} }).upstream, undefined);
    const config = loadConfig({ object: { upstream: { url: URL_ } }, env: {} });
    assert.deepEqual(config.upstream, {
      url: URL_,
      auth: 'none',
      connectTimeoutSeconds: 10,
      headersTimeoutSeconds: 30,
      bodyIdleTimeoutSeconds: 30,
      maxConnections: 32,
      maxSearchResults: 5000,
      forwardStow: false,
    });
  });

  it('refuses credentials in the URL, other schemes, queries and bad limits, each with its reason', () => {
    const problems = configProblems({ upstream: { url: 'http://admin:secret@127.0.0.1:8042/dicom-web?x=1', connectTimeoutSeconds: 0, maxConnections: 0 } }, {});
    assert.ok(
      problems.some((p) => p.startsWith('upstream.url: must not hold credentials')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.startsWith('upstream.url: must be a DICOMweb root without query')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.startsWith('upstream.connectTimeoutSeconds:')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.startsWith('upstream.maxConnections:')),
      problems.join('\n'),
    );
    assert.ok(!problems.join('\n').includes('secret'), 'the password is not repeated in the problems');
    assert.deepEqual(configProblems({ upstream: { url: 'ftp://pacs/dicom-web' } }, {}), ['upstream.url: must be an http or https URL, not ftp:']);
    assert.deepEqual(configProblems({ upstream: { url: URL_, extra: 1 } }, {}), ['upstream: Unrecognized key: "extra"']);
  });

  it('takes basic or bearer credentials from the environment, and refuses them missing, incomplete or unasked', () => {
    const env = { AEGIS_UPSTREAM_USERNAME: 'aegis', AEGIS_UPSTREAM_PASSWORD: 'pw' };
    assert.deepEqual(upstreamAuthorization({ auth: 'basic' }, env), { authorization: `Basic ${Buffer.from('aegis:pw').toString('base64')}` });
    assert.deepEqual(upstreamAuthorization({ auth: 'bearer' }, { AEGIS_UPSTREAM_TOKEN: 't0k' }), { authorization: 'Bearer t0k' });
    assert.deepEqual(configProblems({ upstream: { url: URL_, auth: 'basic' } }, { AEGIS_UPSTREAM_USERNAME: 'aegis' }), [
      'upstream: no complete basic credentials: set AEGIS_UPSTREAM_USERNAME and AEGIS_UPSTREAM_PASSWORD, or credentialsFile with { "username", "password" }',
    ]);
    assert.deepEqual(configProblems({ upstream: { url: URL_ } }, { AEGIS_UPSTREAM_TOKEN: 'x' }), [
      'upstream: auth is none, but credentials are given (credentialsFile or AEGIS_UPSTREAM_USERNAME, AEGIS_UPSTREAM_PASSWORD, AEGIS_UPSTREAM_TOKEN)',
    ]);
  });

  it('reads an owner-only credentials file and refuses one others can read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aegis-upstream-'));
    const file = join(dir, 'upstream.json');
    writeFileSync(file, JSON.stringify({ token: 'from-file' }));
    chmodSync(file, 0o600);
    const config = loadConfig({ object: { upstream: { url: URL_, auth: 'bearer', credentialsFile: file } }, env: {} });
    assert.equal(config.upstream?.credentialsFile, file);
    assert.deepEqual(upstreamAuthorization(config.upstream!, {}), { authorization: 'Bearer from-file' });
    chmodSync(file, 0o644);
    assert.deepEqual(configProblems({ upstream: { url: URL_, auth: 'bearer', credentialsFile: file } }, {}), [`upstream: credentialsFile ${file} is readable by others than its owner (chmod 600 it)`]);
  });
});
