/**
 * The reports of a conformance run (no network): one text line per check with its outcome, id,
 * section, what was expected and seen; the summary and its verdict; JSON of the whole run; JUnit
 * XML that parses, with a testcase per check, failures and skips, and text escaped.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import type { CheckResult } from '../../../conformance/check.js';
import { jsonReport, junitReport, resultLine, summaryText } from '../../../conformance/report.js';
import type { RunReport } from '../../../conformance/runner.js';

const result = (id: string, outcome: CheckResult['outcome'], required: boolean, expected: string, seen: string): CheckResult => ({
  id,
  section: 'PS3.18 §10.5',
  title: `${id} title`,
  profile: 'dicomweb',
  required,
  outcome,
  expected,
  seen,
  durationMs: 12,
});

function run(results: CheckResult[], leftovers: string[] = []): RunReport {
  const failed = results.filter((r) => r.outcome === 'fail');
  return {
    server: { baseUrl: 'http://pacs.example/dicom-web', serverHeader: 'Orthanc' },
    profile: 'dicomweb',
    startedAt: '2026-12-06T12:00:00.000Z',
    durationMs: 2345,
    results,
    leftovers,
    summary: { total: results.length, passed: results.filter((r) => r.outcome === 'pass').length, failed: failed.length, failedRequired: failed.filter((r) => r.required).length, skipped: results.filter((r) => r.outcome === 'skip').length },
  };
}

const RESULTS = [
  result('stow-good-instances', 'pass', true, 'status 200', 'status 200'),
  result('delete-study', 'fail', false, 'DELETE: 200, 202 or 204', '405'),
  result('qido-wildcards', 'fail', true, 'PatientName=A<B>&"C": ALPHA', "(none) & 'x'"),
  result('cors-preflight', 'skip', true, '--origin not given', 'not run'),
];

describe('conformance reports', () => {
  it('prints one line per check: outcome, id, optional, section, expected and seen', () => {
    assert.deepEqual(RESULTS.map(resultLine), [
      'PASS stow-good-instances [PS3.18 §10.5]: expected status 200; seen status 200',
      'FAIL delete-study (optional) [PS3.18 §10.5]: expected DELETE: 200, 202 or 204; seen 405',
      `FAIL qido-wildcards [PS3.18 §10.5]: expected PatientName=A<B>&"C": ALPHA; seen (none) & 'x'`,
      'SKIP cors-preflight [PS3.18 §10.5]: expected --origin not given; seen not run',
    ]);
  });

  it('keeps a line on one line and at most 300 characters of each text', () => {
    const line = resultLine(result('long', 'fail', true, 'a\nb', 'x'.repeat(1000)));
    assert.equal(line, `FAIL long [PS3.18 §10.5]: expected a b; seen ${'x'.repeat(297)}...`);
  });

  it('summarises: counts, the failed required checks, what was left on the server', () => {
    assert.equal(
      summaryText(run(RESULTS, ['study 1.2.3 (DELETE answered 405)'])),
      '4 checks against http://pacs.example/dicom-web (Orthanc): 1 passed, 2 failed (1 required, 1 optional), 1 skipped, in 2.3 s\n' +
        'not conformant: qido-wildcards\n' +
        'left on the server (could not delete): study 1.2.3 (DELETE answered 405)\n',
    );
    assert.match(summaryText(run(RESULTS.slice(0, 2))), /\nconformant: every required check passed\n$/);
  });

  it('writes the whole run as JSON', () => {
    const report = run(RESULTS);
    assert.deepEqual(JSON.parse(jsonReport(report)), report);
  });

  it('writes JUnit XML that parses: a testcase per check, failures with their message, skips, escaped text', () => {
    const xml = junitReport(run(RESULTS));
    assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites /);
    const parsed = new XMLParser({ ignoreAttributes: false, isArray: (name) => name === 'testcase' }).parse(xml);
    const suite = parsed.testsuites.testsuite;
    assert.deepEqual([suite['@_tests'], suite['@_failures'], suite['@_skipped'], suite['@_errors'], suite['@_time']], ['4', '2', '1', '0', '2.345']);
    const cases = suite.testcase as any[];
    assert.deepEqual(
      cases.map((c) => [c['@_name'], c['@_classname'], c['@_time'], c.failure?.['@_type'] ?? null, c.failure?.['@_message'] ?? null, c.skipped?.['@_message'] ?? null]),
      [
        ['stow-good-instances', 'conformance.dicomweb', '0.012', null, null, null],
        ['delete-study', 'conformance.dicomweb', '0.012', 'optional', 'expected DELETE: 200, 202 or 204; seen 405', null],
        ['qido-wildcards', 'conformance.dicomweb', '0.012', 'required', `expected PatientName=A<B>&"C": ALPHA; seen (none) & 'x'`, null],
        ['cors-preflight', 'conformance.dicomweb', '0.012', null, null, '--origin not given'],
      ],
    );
    assert.ok(!xml.includes('A<B>'), 'markup in a message is escaped');
  });
});
