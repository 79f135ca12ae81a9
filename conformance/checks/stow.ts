/**
 * STOW-RS (PS3.18 §10.5): statuses and the Store Instances Response (§10.5.3): a good request is
 * 200 with a ReferencedSOPSequence whose items carry the RetrieveURL; an instance whose Study
 * Instance UID differs from the one in the target URL is not stored (409 and a FailedSOPSequence
 * item with its FailureReason); a body that is not DICOM is a client error, never a server error;
 * and what the server does with a SOP Instance UID it already holds is reported.
 */
import { allOf, verdict, type Check, type Verdict } from '../check.js';
import { describeReply, type Reply } from '../client.js';
import { stored, type SuiteContext } from '../context.js';
import { firstValue, items, TAG, type JsonDataSet } from '../dicom-json.js';
import { buildInstance, newUid, throwawaySpec } from '../instances.js';
import { parseMultipart, stowBody } from '../multipart.js';

const SECTION = 'PS3.18 §10.5';

/** The STOW-RS checks. */
export const STOW_CHECKS: Check[] = [
  {
    id: 'stow-good-instances',
    section: `${SECTION}.3`,
    title: 'STOW-RS of valid instances answers 200 with a ReferencedSOPSequence item (with RetrieveURL) per instance',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const study = stored(context.fixture.main);
      const reply = study.stow!;
      const json = reply.json() as JsonDataSet;
      const referenced = items(json, TAG.referencedSops);
      const sops = referenced.map((item) => firstValue(item, TAG.referencedSopInstance));
      const urls = referenced.map((item) => firstValue(item, TAG.retrieveUrl) ?? '');
      return allOf([
        verdict(reply.status === 200, 'status 200', `status ${reply.status}`),
        verdict(reply.contentType.split(';')[0].trim() === 'application/dicom+json', 'Content-Type application/dicom+json', reply.contentType),
        verdict(
          study.instances.every((i) => sops.includes(i.sop)),
          `ReferencedSOPSequence lists the ${study.instances.length} SOP Instance UIDs`,
          `${sops.length} items`,
        ),
        verdict(
          urls.every((url, i) => url.includes(sops[i] ?? '(missing)')),
          'every item has a RetrieveURL naming its instance',
          urls.map((u) => u || '(none)').join(', '),
        ),
      ]);
    },
  },
  {
    id: 'stow-retrieve-url-resolves',
    section: `${SECTION}.3`,
    title: 'The RetrieveURL of a stored instance retrieves it, byte for byte, with transfer-syntax=*',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const study = stored(context.fixture.second);
      const url = firstValue(items(study.stow!.json() as JsonDataSet, TAG.referencedSops)[0] ?? {}, TAG.retrieveUrl);
      if (url === undefined) return verdict(false, 'a RetrieveURL', 'none');
      const reply = await context.client.get(url, 'multipart/related; type="application/dicom"; transfer-syntax=*');
      const parts = reply.status === 200 ? parseMultipart(reply.body, reply.contentType) : [];
      return verdict(parts.length === 1 && parts[0].bytes.equals(study.instances[0].bytes), `GET ${url}: 200, one part with the stored bytes`, `${describeReply(reply)}, ${parts.length} parts`);
    },
  },
  {
    id: 'stow-study-mismatch',
    section: `${SECTION}.1, §10.5.3`,
    title: 'An instance of another study POSTed to /studies/{study} is not stored: 409 with a FailedSOPSequence item and its FailureReason',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const sop = newUid();
      const own = newUid();
      context.created.push(own);
      const instance = buildInstance(throwawaySpec(context.run, { study: own, series: newUid(), sop }));
      const target = newUid();
      const reply = await post(context, `/studies/${target}`, [instance]);
      const failed = reply.status === 409 ? items(reply.json() as JsonDataSet, TAG.failedSops) : [];
      const reason = Number(firstValue(failed[0] ?? {}, TAG.failureReason));
      const retrieved = await context.client.get(`/studies/${target}/metadata`, 'application/dicom+json');
      return allOf([
        verdict(reply.status === 409, 'status 409', describeReply(reply)),
        verdict(firstValue(failed[0] ?? {}, TAG.referencedSopInstance) === sop, 'FailedSOPSequence names the instance', `${failed.length} items`),
        verdict(reason === 0xa900 || reason === 0xc409, 'FailureReason 0xA900 (or 0xC409)', Number.isNaN(reason) ? 'none' : `0x${reason.toString(16).toUpperCase().padStart(4, '0')}`),
        verdict(retrieved.status === 404, 'nothing stored: the target study answers 404', `${retrieved.status}`),
      ]);
    },
  },
  {
    id: 'stow-not-dicom',
    section: `${SECTION}.3`,
    title: 'A part that is not DICOM is refused with a 4xx (a FailedSOPSequence or a client error), never a 5xx',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const reply = await post(context, '/studies', [Buffer.from('this is a text file, not a DICOM instance\n'.repeat(10))]);
      return verdict(reply.status >= 400 && reply.status < 500, 'a 4xx (409 or 400)', describeReply(reply));
    },
  },
  {
    id: 'stow-unsupported-media-type',
    section: 'PS3.18 §8.6.1.1',
    title: 'A STOW-RS body of an unsupported media type answers 415',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const reply = await context.client.request('POST', '/studies', { body: '{"not":"dicom"}', headers: { 'Content-Type': 'application/x-conformance-unknown' }, accept: 'application/dicom+json' });
      return verdict(reply.status === 415, 'status 415', describeReply(reply));
    },
  },
  {
    id: 'stow-duplicate-identical',
    section: `${SECTION}.3`,
    title: 'The same instance stored again: the behaviour is reported (200 idempotent, or a refusal with a reason); never a 5xx',
    profile: 'dicomweb',
    required: false,
    run: async (context) => duplicateOutcome(await post(context, '/studies', [stored(context.fixture.second).instances[0].bytes])),
  },
  {
    id: 'stow-duplicate-different',
    section: `${SECTION}.3`,
    title: 'A different instance with a stored SOP Instance UID: the behaviour is reported (409 with FailureReason 0x0111, or replaced); never a 5xx',
    profile: 'dicomweb',
    required: false,
    run: async (context) => {
      const target = stored(context.fixture.doomed).instances[0];
      const different = buildInstance({ ...throwawaySpec(context.run, target), instanceNumber: 7, patientName: context.fixture.doomed.patientName, studyDate: context.fixture.doomed.date });
      return duplicateOutcome(await post(context, '/studies', [different]));
    },
  },
];

/** POSTs instances as a STOW-RS request. */
function post(context: SuiteContext, path: string, instances: Uint8Array[]): Promise<Reply> {
  const { body, contentType } = stowBody(instances);
  return context.client.request('POST', path, { body, headers: { 'Content-Type': contentType }, accept: 'application/dicom+json' });
}

/** A duplicate's answer: any 2xx or 4xx with what it said; a 5xx fails. */
function duplicateOutcome(reply: Reply): Verdict {
  let detail = '';
  if (reply.contentType.includes('json') && reply.body.length > 0) {
    const failed = items(reply.json() as JsonDataSet, TAG.failedSops);
    const reason = failed.length > 0 ? Number(firstValue(failed[0], TAG.failureReason)) : undefined;
    detail = reason === undefined ? ' (stored)' : ` (FailureReason 0x${reason.toString(16).toUpperCase().padStart(4, '0')})`;
  }
  return verdict(reply.status < 500, 'a 2xx or a 4xx with a reason (behaviour reported)', `${reply.status}${detail}`);
}
