import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, s3Credentials } from '../../gateway/config.js';
import { configProblems } from '../support/config-problems.js';

/** What every backend gets unless its configuration says otherwise: timeout, retries, circuit breaker. */
const RESILIENCE_DEFAULTS = { timeoutSeconds: 30, retries: { attempts: 2, initialDelayMs: 100, maxDelayMs: 2000 }, breaker: { failures: 5, halfOpenAfterSeconds: 30 } };

describe('configuration', () => {
  it('has embedded defaults: 127.0.0.1:8080, ./data, one fs backend', () => {
    const config = loadConfig({ env: {} });
    assert.equal(config.server.host, '127.0.0.1');
    assert.equal(config.server.port, 8080);
    assert.equal(config.dataDir, resolve('data'));
    assert.deepEqual(config.backends, [{ name: 'local', kind: 'fs', path: resolve('data/stores/local'), ...RESILIENCE_DEFAULTS }]);
    assert.equal(config.catalog.kind, 'sqlite');
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.server), 'the configuration is frozen');
  });

  it('reads YAML and JSON files; environment overrides the file and flags override both', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aegis-config-'));
    const yaml = join(dir, 'aegis.yaml');
    writeFileSync(yaml, 'server:\n  port: 9000\n  host: 127.0.0.2\nlimits:\n  maxParts: 5\n');
    const fromYaml = loadConfig({ file: yaml, env: {} });
    assert.equal(fromYaml.server.port, 9000);
    assert.equal(fromYaml.limits.maxParts, 5);
    const json = join(dir, 'aegis.json');
    writeFileSync(json, JSON.stringify({ server: { port: 9001 } }));
    assert.equal(loadConfig({ env: { AEGIS_CONFIG: json } }).server.port, 9001);
    const env = loadConfig({ file: yaml, env: { AEGIS_PORT: '9100', AEGIS_HOST: '127.0.0.3', AEGIS_DATA_DIR: dir } });
    assert.equal(env.server.port, 9100);
    assert.equal(env.server.host, '127.0.0.3');
    assert.equal(env.dataDir, dir);
    assert.deepEqual(env.backends[0], { name: 'local', kind: 'fs', path: join(dir, 'stores/local'), ...RESILIENCE_DEFAULTS });
    const flags = loadConfig({ file: yaml, env: { AEGIS_PORT: '9100' }, flags: { port: 9200, host: '::1' } });
    assert.equal(flags.server.port, 9200);
    assert.equal(flags.server.host, '::1');
  });

  it('reports every problem at once', () => {
    try {
      loadConfig({
        object: {
          server: { port: 70000, bogus: 1 },
          backends: [
            { name: 'a', kind: 'fs' },
            { name: 'a', kind: 'fs' },
          ],
          placement: { instances: 'b' },
          limits: { maxParts: -1 },
        },
        env: { AEGIS_PORT: 'eighty' },
      });
      assert.fail('expected a ConfigError');
    } catch (error) {
      assert.ok(error instanceof ConfigError, 'a ConfigError');
      const text = error.problems.join('\n');
      for (const expected of [/AEGIS_PORT/, /bogus/, /duplicate backend name 'a'/, /no backend named 'b'/, /limits\.maxParts/]) {
        assert.match(text, expected);
      }
    }
  });

  it('validates the absolute lifetime of refresh-token families against the lifetime of one token', () => {
    assert.equal(loadConfig({ env: {} }).auth.refreshTokenAbsoluteHours, 24);
    assert.equal(loadConfig({ object: { auth: { refreshTokenHours: 1, refreshTokenAbsoluteHours: 1 } }, env: {} }).auth.refreshTokenAbsoluteHours, 1);
    for (const auth of [{ refreshTokenHours: 12, refreshTokenAbsoluteHours: 6 }, { refreshTokenHours: 48 }, { refreshTokenAbsoluteHours: 0 }, { refreshTokenAbsoluteHours: 24 * 366 }]) {
      assert.throws(
        () => loadConfig({ object: { auth }, env: {} }),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError, JSON.stringify(auth));
          assert.match(error.problems.join('\n'), /auth\.refreshTokenAbsoluteHours/);
          return true;
        },
      );
    }
  });

  it('validates the sign-in delays: the longest at least the first', () => {
    assert.deepEqual({ ...loadConfig({ env: {} }).auth.lockout }, { maxFailures: 5, delaySeconds: 1, maxDelaySeconds: 900, maxClientFailures: 50, windowSeconds: 900, lockSeconds: 900 });
    assert.throws(() => loadConfig({ object: { auth: { lockout: { delaySeconds: 10, maxDelaySeconds: 5 } } }, env: {} }), /auth\.lockout\.maxDelaySeconds: must be at least delaySeconds \(10\)/);
  });

  it('trusts no proxy by default, validates trustedProxies and refuses the replaced trustForwardedHeaders', () => {
    assert.deepEqual(loadConfig({ env: {} }).server.trustedProxies, []);
    assert.deepEqual(loadConfig({ object: { server: { trustedProxies: ['10.0.0.5', 'fd00::/8', '192.168.0.0/16'] } }, env: {} }).server.trustedProxies, ['10.0.0.5', 'fd00::/8', '192.168.0.0/16']);
    assert.throws(
      () => loadConfig({ object: { server: { trustedProxies: ['10.0.0.0/33', 'proxy.example', '10'] } }, env: {} }),
      (error: ConfigError) => error.problems.length === 3 && error.problems.every((p, i) => p.startsWith(`server.trustedProxies.${i}: `) && p.includes('is not an IPv4 or IPv6 address or CIDR range')),
    );
    for (const value of [true, false]) {
      assert.throws(
        () => loadConfig({ object: { server: { trustForwardedHeaders: value } }, env: {} }),
        (error: ConfigError) => error.problems.length === 1 && /^server\.trustForwardedHeaders: no longer supported .*server\.trustedProxies/.test(error.problems[0]),
      );
    }
  });

  it('validates the timeouts and limits against slow clients', () => {
    const defaults = loadConfig({ env: {} });
    assert.deepEqual([defaults.server.headersTimeoutSeconds, defaults.server.requestTimeoutSeconds, defaults.server.idleTimeoutSeconds, defaults.server.keepAliveTimeoutSeconds], [30, 3600, 120, 65]);
    assert.deepEqual([defaults.limits.minBodyBytesPerSecond, defaults.limits.bodyRateGraceSeconds, defaults.limits.maxConnectionsPerClient, defaults.limits.maxInflatedBytes], [10240, 10, 32, 64 * 1024 * 1024]);
    assert.throws(
      () => loadConfig({ object: { server: { headersTimeoutSeconds: 0, idleTimeoutSeconds: -1 }, limits: { maxConnectionsPerClient: 0, minBodyBytesPerSecond: 1.5 } }, env: {} }),
      (error: ConfigError) => ['server.headersTimeoutSeconds', 'server.idleTimeoutSeconds', 'limits.maxConnectionsPerClient', 'limits.minBodyBytesPerSecond'].every((key) => error.problems.some((p) => p.startsWith(`${key}: `))),
    );
    assert.throws(
      () => loadConfig({ object: { server: { headersTimeoutSeconds: 60, requestTimeoutSeconds: 30 } }, env: {} }),
      (error: ConfigError) => error.problems.length === 1 && error.problems[0] === 'server.headersTimeoutSeconds: must not exceed server.requestTimeoutSeconds',
    );
  });

  it('reports an unreadable or unparsable file', () => {
    assert.throws(() => loadConfig({ file: '/nonexistent/aegis.yaml', env: {} }), /cannot read configuration file/);
    const dir = mkdtempSync(join(tmpdir(), 'aegis-config-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'server: [unclosed\n');
    assert.throws(() => loadConfig({ file: bad, env: {} }), /cannot parse configuration file/);
  });
});

describe('backends of every kind', () => {
  const s3 = { name: 's3-eu', kind: 's3', endpoint: 'http://127.0.0.1:4569', region: 'us-east-1', bucket: 'aegis', forcePathStyle: true };
  const ipfs = { name: 'ipfs', kind: 'ipfs', url: 'http://127.0.0.1:5001/api/v0', timeoutSeconds: 5 };
  const keys = { AEGIS_S3_S3_EU_ACCESS_KEY_ID: 'AKIA', AEGIS_S3_S3_EU_SECRET_ACCESS_KEY: 'secret' };
  const problemsOf = configProblems;

  it('fs, s3 and ipfs backends with a placement that uses them; credentials are not kept in the configuration', () => {
    const config = loadConfig({ object: { backends: [{ name: 'local', kind: 'fs' }, s3, ipfs], placement: { instances: 'local', regions: ['s3-eu', 'ipfs'] } }, env: keys });
    assert.deepEqual(config.backends[1], { ...s3, prefix: '', ...RESILIENCE_DEFAULTS });
    assert.deepEqual(config.backends[2], { ...RESILIENCE_DEFAULTS, ...ipfs });
    assert.deepEqual(config.placement.regions, ['s3-eu', 'ipfs']);
    const tuned = loadConfig({ object: { backends: [{ name: 'local', kind: 'fs', retries: { attempts: 0 }, breaker: { failures: 2 } }] }, env: {} });
    assert.deepEqual(
      [tuned.backends[0].retries, tuned.backends[0].breaker],
      [
        { attempts: 0, initialDelayMs: 100, maxDelayMs: 2000 },
        { failures: 2, halfOpenAfterSeconds: 30 },
      ],
    );
    assert.doesNotMatch(JSON.stringify(config), /AKIA|secret/);
  });

  it('an s3 backend without credentials, with both sources, or with a bad credentials file is refused, all reported at once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aegis-config-'));
    const open = join(dir, 'open.json');
    writeFileSync(open, JSON.stringify({ accessKeyId: 'a', secretAccessKey: 'b' }));
    chmodSync(open, 0o644);
    const partial = join(dir, 'partial.json');
    writeFileSync(partial, JSON.stringify({ accessKeyId: 'a' }), { mode: 0o600 });
    const problems = problemsOf(
      {
        backends: [
          { name: 'local', kind: 'fs' },
          { ...s3, name: 'none' },
          { ...s3, name: 's3-eu', credentialsFile: partial },
          { ...s3, name: 'world', credentialsFile: open },
        ],
      },
      keys,
    );
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.match(problems[0], /^backends\.1 \(none\): no credentials: set AEGIS_S3_NONE_ACCESS_KEY_ID and AEGIS_S3_NONE_SECRET_ACCESS_KEY/);
    assert.match(problems[1], /^backends\.2 \(s3-eu\): credentials come from credentialsFile or from AEGIS_S3_S3_EU_ACCESS_KEY_ID and AEGIS_S3_S3_EU_SECRET_ACCESS_KEY, not both/);
    assert.match(problems[2], /^backends\.3 \(world\): credentialsFile .* is readable by others than its owner/);
    assert.match(problemsOf({ backends: [{ ...s3, credentialsFile: partial }] }).join('\n'), /must hold \{ "accessKeyId"/);
  });

  it('credentials come from the owner-only file or from the environment, never a default', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aegis-config-'));
    const file = join(dir, 'keys.json');
    writeFileSync(file, JSON.stringify({ accessKeyId: 'from-file', secretAccessKey: 'file-secret' }), { mode: 0o600 });
    assert.deepEqual(s3Credentials({ name: 's3-eu', credentialsFile: file }, {}), { credentials: { accessKeyId: 'from-file', secretAccessKey: 'file-secret' } });
    assert.deepEqual(s3Credentials({ name: 's3-eu' }, { ...keys, AEGIS_S3_S3_EU_SESSION_TOKEN: 'tok' }), { credentials: { accessKeyId: 'AKIA', secretAccessKey: 'secret', sessionToken: 'tok' } });
    assert.ok('problem' in s3Credentials({ name: 's3-eu' }, { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AEGIS_S3_S3_EU_ACCESS_KEY_ID: 'only-half' }));
  });

  it('unknown kinds, bad fields of each kind and paper mode on ipfs are reported', () => {
    const problems = problemsOf(
      {
        backends: [
          { name: 'local', kind: 'fs' },
          { name: 'x', kind: 'ftp' },
          { ...s3, bucket: 'Bad_Bucket', prefix: 'no-slash', extra: 1 },
          { ...ipfs, url: 'not a url', timeoutSeconds: 0 },
          { name: 'tuned', kind: 'fs', retries: { attempts: -1, initialDelayMs: 0, jitter: true }, breaker: { failures: 0, halfOpenAfterSeconds: 0 } },
        ],
        placement: { instances: 'local', regions: ['ipfs'] },
        protection: { mode: 'paper' },
      },
      keys,
    ).join('\n');
    for (const expected of [
      /backends\.1\.kind/,
      /backends\.2\.bucket/,
      /backends\.2\.prefix/,
      /backends\.2: Unrecognized key: "extra"/,
      /backends\.3\.url/,
      /backends\.3\.timeoutSeconds/,
      /backends\.4\.retries\.attempts/,
      /backends\.4\.retries\.initialDelayMs/,
      /backends\.4\.retries: Unrecognized key: "jitter"/,
      /backends\.4\.breaker\.failures/,
      /backends\.4\.breaker\.halfOpenAfterSeconds/,
      /protection\.mode: paper .*'ipfs'/,
    ]) {
      assert.match(problems, expected);
    }
  });
});

it('the documented example configuration is valid and equals the defaults', () => {
  const example = loadConfig({ file: new URL('../../config/aegis.example.yaml', import.meta.url).pathname, env: {} });
  const defaults = loadConfig({ env: {} });
  assert.deepEqual(example, defaults);
});
