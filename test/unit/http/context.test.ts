import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Request } from 'express';
import { loadConfig } from '../../../gateway/config.js';
import { dicomWebBase } from '../../../gateway/http/context.js';

function request(headers: Record<string, string>): Request {
  return { headers, socket: {} } as unknown as Request;
}

describe('the DICOMweb base URL of a request', () => {
  it('is the configured publicUrl when there is one, whatever the headers say', () => {
    const config = loadConfig({ object: { server: { publicUrl: 'https://pacs-gw.example.org/' } }, env: {} });
    assert.equal(dicomWebBase(request({ host: 'internal:8080', 'x-forwarded-host': 'evil.example.com' }), config), 'https://pacs-gw.example.org/dicom-web');
  });

  it('follows X-Forwarded-Proto/Host/Prefix when trusted, else the Host header', () => {
    const trusted = loadConfig({ env: {} });
    const headers = { host: '127.0.0.1:8080', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'gw.example.org', 'x-forwarded-prefix': '/pacs/' };
    assert.equal(dicomWebBase(request(headers), trusted), 'https://gw.example.org/pacs/dicom-web');
    const untrusted = loadConfig({ object: { server: { trustForwardedHeaders: false } }, env: {} });
    assert.equal(dicomWebBase(request(headers), untrusted), 'http://127.0.0.1:8080/dicom-web');
  });

  it('falls back to the configured address when the headers are not a plain host', () => {
    const config = loadConfig({ object: { server: { port: 9000 } }, env: {} });
    assert.equal(dicomWebBase(request({ host: 'a b"<script>' }), config), 'http://127.0.0.1:9000/dicom-web');
    assert.equal(dicomWebBase(request({ host: 'gw', 'x-forwarded-proto': 'javascript' }), config), 'http://127.0.0.1:9000/dicom-web');
  });
});
