import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Request } from 'express';
import { loadConfig } from '../../../gateway/config.js';
import { dicomWebBase } from '../../../gateway/http/context.js';

function request(headers: Record<string, string>, peer = '127.0.0.1'): Request {
  return { headers, socket: { remoteAddress: peer } } as unknown as Request;
}

describe('the DICOMweb base URL of a request', () => {
  it('is the configured publicUrl when there is one, whatever the headers say', () => {
    const config = loadConfig({ object: { server: { publicUrl: 'https://pacs-gw.example.org/', trustedProxies: ['127.0.0.1'] } }, env: {} });
    assert.equal(dicomWebBase(request({ host: 'internal:8080', 'x-forwarded-host': 'evil.example.com' }), config), 'https://pacs-gw.example.org/dicom-web');
  });

  it('ignores forwarded headers by default: the Host header decides', () => {
    const config = loadConfig({ env: {} });
    const headers = { host: '127.0.0.1:8080', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example', 'x-forwarded-prefix': '/pacs/', forwarded: 'host=evil.example;proto=https' };
    assert.equal(dicomWebBase(request(headers), config), 'http://127.0.0.1:8080/dicom-web');
  });

  it('follows Forwarded or X-Forwarded-Proto/Host/Prefix from a trusted proxy only', () => {
    const config = loadConfig({ object: { server: { trustedProxies: ['10.0.0.0/8'] } }, env: {} });
    const headers = { host: '127.0.0.1:8080', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'gw.example.org', 'x-forwarded-prefix': '/pacs/' };
    assert.equal(dicomWebBase(request(headers, '10.1.2.3'), config), 'https://gw.example.org/pacs/dicom-web');
    assert.equal(dicomWebBase(request({ host: 'h', forwarded: 'proto=https;host="gw.example.org:8443"' }, '10.1.2.3'), config), 'https://gw.example.org:8443/dicom-web');
    assert.equal(dicomWebBase(request(headers, '192.0.2.1'), config), 'http://127.0.0.1:8080/dicom-web');
  });

  it('falls back to the configured address when the headers are not a plain host', () => {
    const config = loadConfig({ object: { server: { port: 9000 } }, env: {} });
    assert.equal(dicomWebBase(request({ host: 'a b"<script>' }), config), 'http://127.0.0.1:9000/dicom-web');
    const trusting = loadConfig({ object: { server: { port: 9000, trustedProxies: ['127.0.0.1'] } }, env: {} });
    assert.equal(dicomWebBase(request({ host: 'gw', 'x-forwarded-proto': 'javascript' }), trusting), 'http://127.0.0.1:9000/dicom-web');
    assert.equal(dicomWebBase(request({ host: 'gw', forwarded: 'host="a b"' }), trusting), 'http://127.0.0.1:9000/dicom-web');
  });
});
