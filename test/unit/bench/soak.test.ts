/**
 * The soak's own logic, without a server: new generations of a churn study (same-length UIDs
 * patched in place, nothing else changed) and the flatness verdict.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import dicomParser from 'dicom-parser';
import { churnStudy, soakData } from '../../../bench/lib/soak-data.js';
import { verdict, type BucketReport } from '../../../bench/lib/soak-stats.js';

describe('soak churn generations', () => {
  const template = soakData().churn[0]!;

  it('gives every instance new Study, Series and SOP Instance UIDs of the same length, and leaves every other byte alone', () => {
    const g = churnStudy(template, 12345);
    assert.notEqual(g.study, template.study);
    assert.equal(g.study.length, template.study.length);
    for (const [k, inst] of g.instances.entries()) {
      const original = template.instances[k]!;
      assert.equal(inst.bytes.length, original.bytes.length, 'same length');
      const parsed = dicomParser.parseDicom(new Uint8Array(inst.bytes));
      assert.equal(parsed.string('x0020000d'), g.study);
      assert.equal(parsed.string('x0020000e'), inst.series);
      assert.equal(parsed.string('x00080018'), inst.sop);
      assert.equal(parsed.string('x00020003'), inst.sop, 'the file meta SOP Instance UID too');
      assert.notEqual(inst.sop, original.sop);
      const differing = [...inst.bytes].filter((b, i) => b !== original.bytes[i]).length;
      assert.ok(differing > 0 && differing <= 4 * 8, `only generation digits differ (${differing} bytes)`);
      assert.ok(inst.bytes.subarray(inst.pixelOffset).equals(original.bytes.subarray(original.pixelOffset)), 'pixels unchanged');
    }
  });

  it('does not change the template, and gives distinct generations distinct UIDs', () => {
    const before = Buffer.from(template.instances[0]!.bytes);
    const a = churnStudy(template, 1);
    const b = churnStudy(template, 2);
    assert.ok(template.instances[0]!.bytes.equals(before), 'template untouched');
    assert.notEqual(a.study, b.study);
    assert.notEqual(a.instances[0]!.sop, b.instances[0]!.sop);
  });
});

describe('soak verdict', () => {
  const bucket = (index: number, p99Ms: number, rssMaxMB: number, errors = 0): BucketReport => ({
    index,
    fromS: index * 60,
    requests: 100,
    errors,
    denied: 0,
    errorsByKind: {},
    denialsByKind: {},
    p50Ms: 1,
    p99Ms,
    perOp: {},
    rssMaxMB,
    rssLastMB: rssMaxMB,
    rssAtMaxMB: {},
    gauges: {},
  });

  it('passes when the last bucket is within the tolerance of the second, whatever the first (warm-up)', () => {
    const v = verdict([bucket(0, 900, 900), bucket(1, 100, 400), bucket(2, 300, 300), bucket(3, 114, 459)], 0.15, []);
    assert.deepEqual(v.reasons, []);
    assert.equal(v.pass, true);
  });

  it('fails on a p99 or RSS change beyond the tolerance either way, on errors and on denial problems', () => {
    assert.deepEqual(verdict([bucket(0, 1, 1), bucket(1, 100, 400), bucket(2, 116, 400)], 0.15, []).reasons, ['p99 not flat: 100.0 ms in bucket 2, 116.0 ms in the last (+16.0 %)']);
    assert.deepEqual(verdict([bucket(0, 1, 1), bucket(1, 100, 400), bucket(2, 100, 320)], 0.15, []).reasons, ['RSS not flat: 400.0 MB in bucket 2, 320.0 MB in the last (-20.0 %)']);
    assert.deepEqual(verdict([bucket(0, 1, 1, 2), bucket(1, 100, 400), bucket(2, 100, 400, 1)], 0.15, ['unexpected denial kind: x']).reasons, ['3 error(s)', 'unexpected denial kind: x']);
  });

  it('fails with fewer than three buckets', () => {
    const v = verdict([bucket(0, 1, 1), bucket(1, 1, 1)], 0.15, []);
    assert.equal(v.pass, false);
    assert.deepEqual(v.reasons, ['only 2 bucket(s): flatness needs at least 3 (the first is warm-up)']);
  });
});
