import assert from 'node:assert/strict';
import { it } from 'node:test';
import express from 'express';
import type { AuditTrail } from '../../../gateway/access/audit/trail.js';
import { loadConfig } from '../../../gateway/config.js';
import { createGatewayServer } from '../../../gateway/http/server.js';

it('an error of the listening server (accept failing with EMFILE) is logged, not thrown', () => {
  const errors: string[] = [];
  const logger = { error: (_d: unknown, message: string) => void errors.push(message), warn: () => undefined };
  const server = createGatewayServer(express(), { config: loadConfig({ env: {} }), audit: {} as AuditTrail, logger });
  assert.doesNotThrow(() => server.emit('error', Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' })));
  assert.deepEqual(errors, ['the HTTP server reported an error; it goes on serving']);
});

it('takes its timeouts from the configuration', () => {
  const config = loadConfig({ object: { server: { headersTimeoutSeconds: 2, requestTimeoutSeconds: 5, idleTimeoutSeconds: 7, keepAliveTimeoutSeconds: 3 } }, env: {} });
  const server = createGatewayServer(express(), { config, audit: {} as AuditTrail, logger: { error: () => undefined, warn: () => undefined } });
  assert.deepEqual([server.headersTimeout, server.requestTimeout, server.timeout, server.keepAliveTimeout], [2000, 5000, 7000, 3000]);
});
