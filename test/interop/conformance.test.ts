/**
 * `aegis conformance` run as a user runs it (the `aegis` command, a child process) against Aegis on
 * its embedded default with authentication and CORS on, every profile: every required check
 * passes, nothing is left behind, and the JSON and JUnit reports are written and parse. Then
 * against Orthanc (Debian's 1.10 with its DICOMweb plugin): the run completes and its reports list
 * Orthanc's deviations as failed checks of Orthanc (DELETE answered 405, and what it left behind).
 * Last, Aegis in proxy mode in front of that Orthanc (which holds a study of its own, so searches
 * merge both): every required check passes there too. The reports stay in reports/conformance/
 * for CI to keep.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import { UserStore } from '../../gateway/access/users.js';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { runAegis } from '../support/aegis-cli.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { startOrthanc, type RunningOrthanc } from '../support/orthanc.js';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';

const REPORTS = fileURLToPath(new URL('../../reports/conformance/', import.meta.url));
const TAMPER = fileURLToPath(new URL('../support/tamper-instance.mjs', import.meta.url));
const ORIGIN = 'http://viewer.example.org';
const basic = (user: string, password: string) => `Authorization: Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** The parts of the JSON report the test reads. */
interface Report {
  results: Array<{ id: string; outcome: string; required: boolean; seen: string }>;
  leftovers: string[];
  summary: { total: number; failed: number; failedRequired: number; skipped: number };
}

/** Parses the JUnit report: the testcases and the suite's counts. */
function junit(xml: string) {
  const parsed = new XMLParser({ ignoreAttributes: false, isArray: (name) => name === 'testcase' }).parse(xml);
  const suite = parsed.testsuites.testsuite;
  return { tests: Number(suite['@_tests']), failures: Number(suite['@_failures']), testcases: suite.testcase as Array<{ '@_name': string; failure?: { '@_message': string } }> };
}

describe('aegis conformance', { timeout: 300_000 }, () => {
  before(async () => {
    await mkdir(REPORTS, { recursive: true });
  });

  describe('against Aegis on the embedded default, authentication and CORS on', () => {
    let aegis: TestGateway;
    before(async () => {
      // No cache of verified instances: the tamper hook's change is seen by the next read.
      aegis = await startTestGateway({ auth: { bootstrapAdmin: false }, cors: { origins: [ORIGIN] }, protection: { verifiedCacheMiB: 0 } });
      const catalog = await Catalog.openSqlite(join(aegis.dataDir, 'catalog.sqlite'));
      try {
        const users = new UserStore(catalog.db);
        await users.add({ name: 'suite', role: 'admin', attributes: {}, password: 'the conformance suite passphrase' });
        // A radiologist of another institution: the default policy denies the suite's study.
        await users.add({ name: 'outsider', role: 'radiologist', attributes: { institution: 'Elsewhere Hospital' }, password: 'an outsider passphrase' });
      } finally {
        await catalog.close();
      }
    });
    after(async () => {
      await aegis?.stop();
    });

    it('passes every required check of every profile and writes JSON and JUnit reports', async () => {
      const json = join(REPORTS, 'aegis.json');
      const xml = join(REPORTS, 'aegis.xml');
      const run = await runAegis(
        [
          'conformance',
          '--base-url',
          aegis.dicomWebUrl,
          '--header',
          basic('suite', 'the conformance suite passphrase'),
          '--profile',
          'all',
          '--origin',
          ORIGIN,
          '--denied-header',
          basic('outsider', 'an outsider passphrase'),
          '--tamper-command',
          `node ${JSON.stringify(TAMPER)} ${JSON.stringify(aegis.dataDir)}`,
          '--json',
          json,
          '--junit',
          xml,
        ],
        { timeoutMs: 120_000 },
      );
      const failures = run.stdout.split('\n').filter((line) => line.startsWith('FAIL'));
      assert.equal(run.status, 0, `${failures.join('\n')}\n${run.stderr}`);
      const report = JSON.parse(await readFile(json, 'utf8')) as Report;
      assert.deepEqual(
        report.results.filter((r) => r.required && r.outcome !== 'pass').map((r) => `${r.id}: ${r.outcome} ${r.seen}`),
        [],
        'every required check ran and passed (none skipped)',
      );
      assert.ok(report.summary.total >= 45, `${report.summary.total} checks`);
      assert.deepEqual(report.leftovers, [], 'the suite removed everything it stored');
      assert.equal(run.stdout.split('\n').filter((line) => /^(PASS|FAIL|SKIP) /.test(line)).length, report.summary.total, 'one line per check');
      assert.match(run.stdout, /conformant: every required check passed\n/);
      const suite = junit(await readFile(xml, 'utf8'));
      assert.equal(suite.tests, report.summary.total);
      assert.deepEqual(
        suite.testcases.map((t) => t['@_name']),
        report.results.map((r) => r.id),
      );
      assert.equal(suite.failures, report.summary.failed);
    });
  });

  describe('against Orthanc with its DICOMweb plugin', () => {
    let orthanc: RunningOrthanc;
    before(async () => {
      orthanc = await startOrthanc();
    });
    after(async () => {
      await orthanc?.stop();
    });

    it("completes and reports Orthanc's deviations as failed checks, DELETE answered 405 among them", async () => {
      const json = join(REPORTS, 'orthanc.json');
      const xml = join(REPORTS, 'orthanc.xml');
      const run = await runAegis(['conformance', '--base-url', orthanc.dicomWebUrl, '--json', json, '--junit', xml], { timeoutMs: 120_000 });
      assert.ok(run.status === 0 || run.status === 1, `exit ${run.status}\n${run.stderr}`);
      assert.equal(run.stderr, '', 'no crash');
      const report = JSON.parse(await readFile(json, 'utf8')) as Report;
      assert.equal(run.status, report.summary.failedRequired === 0 ? 0 : 1, 'exit 1 exactly when a required check failed');
      const deleteCheck = report.results.find((r) => r.id === 'delete-study');
      assert.deepEqual({ outcome: deleteCheck?.outcome, required: deleteCheck?.required, seen: deleteCheck?.seen }, { outcome: 'fail', required: false, seen: '405' });
      assert.match(run.stdout, /^FAIL delete-study \(optional\) .*seen 405$/m);
      assert.ok(report.leftovers.length > 0 && report.leftovers.every((l) => l.endsWith('(DELETE answered 405)')), 'what Orthanc could not delete is listed');
      const suite = junit(await readFile(xml, 'utf8'));
      assert.equal(suite.tests, report.summary.total);
      assert.match(suite.testcases.find((t) => t['@_name'] === 'delete-study')?.failure?.['@_message'] ?? '', /seen 405/);
    });
  });

  describe('against Aegis in proxy mode in front of Orthanc', () => {
    let orthanc: RunningOrthanc;
    let aegis: TestGateway;
    before(async () => {
      orthanc = await startOrthanc();
      // A study only in the PACS: every search through Aegis merges it with the catalog's results.
      const old = syntheticInstance({ studyInstanceUID: newUid(), seriesInstanceUID: newUid(), sopInstanceUID: newUid(), rows: 8, columns: 8, seed: 7, patientName: 'Upstream^Only' });
      assert.equal((await fetch(`${orthanc.url}/instances`, { method: 'POST', body: Buffer.from(old) })).status, 200);
      aegis = await startTestGateway({ auth: { bootstrapAdmin: false }, cors: { origins: [ORIGIN] }, upstream: { url: orthanc.dicomWebUrl, headersTimeoutSeconds: 10 } });
      const catalog = await Catalog.openSqlite(join(aegis.dataDir, 'catalog.sqlite'));
      try {
        await new UserStore(catalog.db).add({ name: 'suite', role: 'admin', attributes: {}, password: 'the conformance suite passphrase' });
      } finally {
        await catalog.close();
      }
    });
    after(async () => {
      await aegis?.stop();
      await orthanc?.stop();
    });

    it('passes every required check with the upstream behind it', async () => {
      const json = join(REPORTS, 'aegis-proxy.json');
      const run = await runAegis(['conformance', '--base-url', aegis.dicomWebUrl, '--header', basic('suite', 'the conformance suite passphrase'), '--origin', ORIGIN, '--json', json, '--junit', join(REPORTS, 'aegis-proxy.xml')], {
        timeoutMs: 120_000,
      });
      const failures = run.stdout.split('\n').filter((line) => line.startsWith('FAIL'));
      assert.equal(run.status, 0, `${failures.join('\n')}\n${run.stderr}`);
      const report = JSON.parse(await readFile(json, 'utf8')) as Report;
      assert.deepEqual(
        report.results.filter((r) => r.required && r.outcome !== 'pass').map((r) => `${r.id}: ${r.outcome} ${r.seen}`),
        [],
      );
      assert.ok(report.summary.total >= 45, `${report.summary.total} checks`);
      assert.deepEqual(report.leftovers, []);
    });
  });
});
