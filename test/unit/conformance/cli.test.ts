/**
 * The command line of `aegis conformance` (no network): options parsed into a run, headers as
 * `Name: value`, every wrong command line refused with exit 2 and a message, `--help` on stdout.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { conformanceCommand, parseConformanceArgs, UsageError } from '../../../conformance/cli.js';

/** A stream that keeps what is written to it. */
function sink(): Writable & { text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return Object.assign(stream, { text: () => text });
}

describe('aegis conformance: arguments', () => {
  it('parses every option into the run', () => {
    const args = parseConformanceArgs([
      'conformance',
      '--base-url',
      'https://pacs.example/dicom-web/',
      '--header',
      'Authorization: Basic YTpi',
      '--header',
      'X-Tenant:  north ',
      '--profile',
      'all',
      '--origin',
      'https://viewer.example',
      '--denied-header',
      'Authorization: Bearer other',
      '--tamper-command',
      'flip.sh',
      '--timeout',
      '2.5',
      '--json',
      'out.json',
      '--junit',
      'out.xml',
    ]);
    assert.deepEqual(args, {
      help: false,
      json: 'out.json',
      junit: 'out.xml',
      run: {
        baseUrl: 'https://pacs.example/dicom-web/',
        headers: { Authorization: 'Basic YTpi', 'X-Tenant': 'north' },
        profile: 'all',
        origin: 'https://viewer.example',
        deniedHeaders: { Authorization: 'Bearer other' },
        tamperCommand: 'flip.sh',
        timeoutMs: 2500,
      },
    });
  });

  it('defaults to the dicomweb profile, 30 s per request, no reports, no denied user', () => {
    const { run, json, junit } = parseConformanceArgs(['conformance', '--base-url', 'http://127.0.0.1:8080/dicom-web']);
    assert.deepEqual(
      { profile: run.profile, timeoutMs: run.timeoutMs, headers: run.headers, deniedHeaders: run.deniedHeaders, json, junit },
      { profile: 'dicomweb', timeoutMs: 30_000, headers: {}, deniedHeaders: undefined, json: undefined, junit: undefined },
    );
  });

  const wrong: Array<[string[], RegExp]> = [
    [['conformance'], /--base-url is required/],
    [['conformance', '--base-url', 'pacs.example/dicom-web'], /is not an http\(s\) URL/],
    [['conformance', '--base-url', 'http://h/dw', '--profile', 'fast'], /--profile must be one of dicomweb, security, all, not 'fast'/],
    [['conformance', '--base-url', 'http://h/dw', '--header', 'Authorization Basic x'], /--header 'Authorization Basic x' is not 'Name: value'/],
    [['conformance', '--base-url', 'http://h/dw', '--denied-header', ': x'], /--denied-header ': x' is not 'Name: value'/],
    [['conformance', '--base-url', 'http://h/dw', '--timeout', '0'], /--timeout '0' is not a positive number/],
    [['conformance', '--base-url', 'http://h/dw', 'extra'], /unexpected argument 'extra'/],
    [['conformance', '--base-url', 'http://h/dw', '--frobnicate'], /Unknown option '--frobnicate'/],
  ];
  for (const [argv, message] of wrong) {
    it(`refuses ${argv.slice(1).join(' ') || 'no arguments'} with exit 2`, async () => {
      assert.throws(
        () => parseConformanceArgs(argv),
        (error: unknown) => error instanceof UsageError && message.test(error.message),
      );
      const stdout = sink();
      const stderr = sink();
      assert.equal(await conformanceCommand(argv, { stdout, stderr }), 2);
      assert.match(stderr.text(), /^aegis conformance: .*\n\(see 'aegis conformance --help'\)\n$/);
      assert.equal(stdout.text(), '');
    });
  }

  it('prints the usage for --help, without a base URL, and exits 0', async () => {
    const stdout = sink();
    const stderr = sink();
    assert.equal(await conformanceCommand(['conformance', '--help'], { stdout, stderr }), 0);
    assert.match(stdout.text(), /^usage: aegis conformance --base-url URL/);
    assert.equal(stderr.text(), '');
  });
});
