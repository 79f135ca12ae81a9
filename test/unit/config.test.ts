import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../gateway/config.js';

describe('configuration', () => {
  it('has embedded defaults: 127.0.0.1:8080, ./data, one fs backend', () => {
    const config = loadConfig({ env: {} });
    assert.equal(config.server.host, '127.0.0.1');
    assert.equal(config.server.port, 8080);
    assert.equal(config.dataDir, resolve('data'));
    assert.deepEqual(config.backends, [{ name: 'local', kind: 'fs', path: resolve('data/stores/local') }]);
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
    assert.equal(env.backends[0].path, join(dir, 'stores/local'));
    const flags = loadConfig({ file: yaml, env: { AEGIS_PORT: '9100' }, flags: { port: 9200, host: '::1' } });
    assert.equal(flags.server.port, 9200);
    assert.equal(flags.server.host, '::1');
  });

  it('reports every problem at once', () => {
    try {
      loadConfig({
        object: { server: { port: 70000, bogus: 1 }, backends: [{ name: 'a', kind: 'fs' }, { name: 'a', kind: 'fs' }], placement: { instances: 'b' }, limits: { maxParts: -1 } },
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
      assert.throws(() => loadConfig({ object: { auth }, env: {} }), (error: unknown) => {
        assert.ok(error instanceof ConfigError, JSON.stringify(auth));
        assert.match(error.problems.join('\n'), /auth\.refreshTokenAbsoluteHours/);
        return true;
      });
    }
  });

  it('validates the sign-in delays: the longest at least the first', () => {
    assert.deepEqual(
      { ...loadConfig({ env: {} }).auth.lockout },
      { maxFailures: 5, delaySeconds: 1, maxDelaySeconds: 900, maxClientFailures: 50, windowSeconds: 900, lockSeconds: 900 },
    );
    assert.throws(() => loadConfig({ object: { auth: { lockout: { delaySeconds: 10, maxDelaySeconds: 5 } } }, env: {} }), /auth\.lockout\.maxDelaySeconds: must be at least delaySeconds \(10\)/);
  });

  it('trusts no proxy by default, validates trustedProxies and refuses the replaced trustForwardedHeaders', () => {
    assert.deepEqual(loadConfig({ env: {} }).server.trustedProxies, []);
    assert.deepEqual(loadConfig({ object: { server: { trustedProxies: ['10.0.0.5', 'fd00::/8', '192.168.0.0/16'] } }, env: {} }).server.trustedProxies, ['10.0.0.5', 'fd00::/8', '192.168.0.0/16']);
    assert.throws(
      () => loadConfig({ object: { server: { trustedProxies: ['10.0.0.0/33', 'proxy.example', '10'] } }, env: {} }),
      (error: ConfigError) =>
        error.problems.length === 3 && error.problems.every((p, i) => p.startsWith(`server.trustedProxies.${i}: `) && p.includes('is not an IPv4 or IPv6 address or CIDR range')),
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
    assert.deepEqual(
      [defaults.server.headersTimeoutSeconds, defaults.server.requestTimeoutSeconds, defaults.server.idleTimeoutSeconds, defaults.server.keepAliveTimeoutSeconds],
      [30, 3600, 120, 65],
    );
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

it('the documented example configuration is valid and equals the defaults', () => {
  const example = loadConfig({ file: new URL('../../config/aegis.example.yaml', import.meta.url).pathname, env: {} });
  const defaults = loadConfig({ env: {} });
  assert.deepEqual(example, defaults);
});
