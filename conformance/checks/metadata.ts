/**
 * WADO-RS metadata (PS3.18 §10.4, the DICOM JSON model of Annex F): one data set per instance at
 * the study, series and instance levels, with values in their JSON form (a person name as an
 * object with Alphabetic, US as numbers), and bulk data either inline or as a BulkDataURI that
 * resolves to exactly the element's bytes.
 */
import { allOf, verdict, type Check, type Verdict } from '../check.js';
import { describeReply } from '../client.js';
import { pathOf, stored, type StoredInstance, type SuiteContext } from '../context.js';
import { dataSets, firstValue, TAG, valuesOf, type JsonDataSet } from '../dicom-json.js';
import { SIZE, pixelValue } from '../instances.js';
import { parseMultipart } from '../multipart.js';

const SECTION = 'PS3.18 §10.4, Annex F';

/** The metadata checks. */
export const METADATA_CHECKS: Check[] = [
  {
    id: 'metadata-levels',
    section: SECTION,
    title: 'Metadata of a study, a series and an instance lists exactly their instances',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const study = stored(context.fixture.main);
      const first = study.instances[0];
      const scopes: Array<[string, StoredInstance[]]> = [
        [pathOf(first, 'study'), study.instances],
        [pathOf(first, 'series'), study.instances.filter((i) => i.series === first.series)],
        [pathOf(first, 'instance'), [first]],
      ];
      const verdicts: Verdict[] = [];
      for (const [path, expected] of scopes) {
        const sets = dataSets(await context.client.get(`${path}/metadata`, 'application/dicom+json'), `${path}/metadata`);
        verdicts.push(verdict(JSON.stringify(valuesOf(sets, TAG.sopUid)) === JSON.stringify(expected.map((i) => i.sop).sort()), `${path}/metadata: ${expected.length} data sets, one per instance`, `${sets.length} data sets`));
      }
      return allOf(verdicts);
    },
  },
  {
    id: 'metadata-json-model',
    section: 'PS3.18 Annex F.2',
    title: 'Metadata values follow the DICOM JSON model: vr given, PN as {Alphabetic}, US as numbers, UIDs as strings',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const instance = stored(context.fixture.main).instances[0];
      const [set] = dataSets(await context.client.get(`${pathOf(instance, 'instance')}/metadata`, 'application/dicom+json'), 'instance metadata');
      if (set === undefined) return verdict(false, 'one data set', 'none');
      const name = set[TAG.patientName]?.Value?.[0] as { Alphabetic?: string } | undefined;
      return allOf([
        verdict(set[TAG.patientName]?.vr === 'PN' && name?.Alphabetic === context.fixture.main.patientName, `PatientName {vr: PN, Value: [{Alphabetic: ${context.fixture.main.patientName}}]}`, JSON.stringify(set[TAG.patientName])),
        verdict(set[TAG.rows]?.vr === 'US' && set[TAG.rows]?.Value?.[0] === SIZE, `Rows {vr: US, Value: [${SIZE}]}`, JSON.stringify(set[TAG.rows])),
        verdict(set[TAG.studyUid]?.vr === 'UI' && firstValue(set, TAG.studyUid) === instance.study, 'StudyInstanceUID {vr: UI} with the stored UID', JSON.stringify(set[TAG.studyUid])),
      ]);
    },
  },
  {
    id: 'metadata-bulkdata',
    section: 'PS3.18 §8.7.3.5.3, Annex F.2.7',
    title: 'Pixel Data in metadata is inline or a BulkDataURI that returns exactly its bytes',
    profile: 'dicomweb',
    required: true,
    run: async (context) => bulkDataOf(context, stored(context.fixture.main).instances[0]),
  },
];

/** Checks the Pixel Data of `instance`'s metadata: InlineBinary or a BulkDataURI with the pixel bytes. */
async function bulkDataOf(context: SuiteContext, instance: StoredInstance): Promise<Verdict> {
  const [set] = dataSets(await context.client.get(`${pathOf(instance, 'instance')}/metadata`, 'application/dicom+json'), 'instance metadata');
  const pixels: JsonDataSet[string] = set?.[TAG.pixelData];
  const expected = Buffer.from(Array.from({ length: SIZE * SIZE }, (_, i) => pixelValue(0, i)));
  if (pixels?.InlineBinary !== undefined) return verdict(Buffer.from(pixels.InlineBinary, 'base64').equals(expected), 'InlineBinary with the pixel bytes', `${pixels.InlineBinary.length} base64 characters`);
  if (pixels?.BulkDataURI === undefined) return verdict(false, 'Pixel Data with a BulkDataURI or InlineBinary', JSON.stringify(pixels) ?? 'no Pixel Data element');
  const reply = await context.client.get(pixels.BulkDataURI, 'multipart/related; type="application/octet-stream"');
  const parts = reply.status === 200 ? parseMultipart(reply.body, reply.contentType) : [];
  return verdict(
    parts.length === 1 && parts[0].bytes.equals(expected),
    `GET BulkDataURI: 200, one part with the ${expected.length} pixel bytes`,
    `${describeReply(reply)}, ${parts.length} parts${parts[0] ? ` of ${parts[0].bytes.length} bytes` : ''}`,
  );
}
