/**
 * The `metrics` section: on by default with no scrape token (admins only); the token from exactly
 * one place (`AEGIS_METRICS_TOKEN` or an owner-only `tokenFile`), long enough, never a default;
 * every bad value refused at start-up with its reason.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../gateway/config.js';
import { metricsToken } from '../../gateway/config-metrics.js';
import { configProblems } from '../support/config-problems.js';

const TOKEN = 'f'.repeat(24) + '0123456789abcdef';

function tokenFile(content: string, mode: number): string {
  const file = join(mkdtempSync(join(tmpdir(), 'aegis-metrics-conf-')), 'token');
  writeFileSync(file, content, { mode });
  return file;
}

describe('metrics configuration', () => {
  it('is enabled by default, without a scrape token', () => {
    const config = loadConfig({ env: {} });
    assert.deepEqual(config.metrics, { enabled: true });
    assert.deepEqual(metricsToken(config.metrics, {}), {});
  });

  it('takes the token from the environment or from an owner-only file, the file path made absolute', () => {
    assert.deepEqual(metricsToken({}, { AEGIS_METRICS_TOKEN: TOKEN }), { token: TOKEN });
    const file = tokenFile(`${TOKEN}\n`, 0o600);
    const config = loadConfig({ object: { metrics: { tokenFile: file } }, env: {} });
    assert.equal(config.metrics.tokenFile, file);
    assert.deepEqual(metricsToken(config.metrics, {}), { token: TOKEN });
  });

  it('refuses a token from both places, a file others can read, a missing file, a short token and one with spaces', () => {
    const file = tokenFile(TOKEN, 0o600);
    assert.deepEqual(configProblems({ metrics: { tokenFile: file } }, { AEGIS_METRICS_TOKEN: TOKEN }), ['metrics: the scrape token comes from tokenFile or from AEGIS_METRICS_TOKEN, not both']);
    const readable = tokenFile(TOKEN, 0o644);
    assert.deepEqual(configProblems({ metrics: { tokenFile: readable } }), [`metrics: tokenFile ${readable} is readable by others than its owner (chmod 600 it)`]);
    assert.match(configProblems({ metrics: { tokenFile: join(tmpdir(), 'no-such-aegis-token') } })[0]!, /^metrics: cannot read tokenFile .*no-such-aegis-token: ENOENT/);
    assert.deepEqual(configProblems({}, { AEGIS_METRICS_TOKEN: 'short' }), ['metrics: the scrape token must be at least 32 characters (e.g. openssl rand -hex 32)']);
    assert.deepEqual(configProblems({}, { AEGIS_METRICS_TOKEN: `${TOKEN} ${TOKEN}` }), ['metrics: the scrape token must be printable ASCII without spaces']);
    // The token is a secret: it has no place in the configuration file.
    assert.deepEqual(configProblems({ metrics: { enabled: 'yes', token: TOKEN } }), ['metrics.enabled: Invalid input: expected boolean, received string', 'metrics: Unrecognized key: "token"']);
  });
});
