/**
 * The study, series and instance an audit record names are the ones the request reached: the
 * router percent-decodes path segments and ignores the case of its words, so the record must read
 * the path the same way. A path that spells a UID with an escape (`1.2.3.4%35` is `1.2.3.45`), or
 * in capitals, must not make the record name another instance (or none).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { stow } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { readTrail } from '../support/trail.js';

describe('audit records name the resources the request reached', () => {
  let gateway: TestGateway;
  const study = newUid();
  const series = newUid();
  // Two instances whose UIDs differ by a last digit: the prefix is itself a stored instance.
  const prefix = `${newUid()}.4`;
  const read = `${prefix}5`;

  before(async () => {
    gateway = await startTestGateway();
    const instances = [prefix, read].map((sop) => syntheticInstance({ studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: sop }));
    assert.equal((await stow(gateway.dicomWebUrl, instances)).status, 200);
  });
  after(() => gateway.stop());

  it('an escaped or capitalized path is recorded with the decoded UIDs of the instance read', async () => {
    const paths = {
      'escaped-digit': `/dicom-web/studies/${study}/series/${series}/instances/${prefix}%35/metadata`,
      'escaped-dots': `/dicom-web/studies/${study.replaceAll('.', '%2E')}/series/${series}/instances/${read.replaceAll('.', '%2e')}/metadata`,
      capitals: `/DICOM-WEB/Studies/${study}/SERIES/${series}/Instances/${read}/METADATA`,
    };
    for (const [id, path] of Object.entries(paths)) {
      const res = await fetch(`${gateway.url}${path}`, { headers: { Accept: 'application/dicom+json', 'X-Request-Id': `audit-${id}` } });
      assert.equal(res.status, 200, id);
      const [metadata] = (await res.json()) as Array<Record<string, { Value: string[] }>>;
      assert.equal(metadata['00080018'].Value[0], read, `${id}: the request reads ${read}`);
    }
    const { events } = await readTrail(gateway.dataDir);
    for (const id of Object.keys(paths)) {
      const event = events.find((e) => e.requestId === `audit-${id}`);
      assert.deepEqual(event?.resources, [{ study, series, instance: read }], `${id}: the record names the instance read, and nothing else`);
      assert.equal(event?.action, 'read', id);
    }
  });
});
