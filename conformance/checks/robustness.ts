/**
 * Robustness (PS3.18 §8.6, §8.3.4; RFC 9110 §15.5): what a careless or hostile client sends is
 * answered with a 4xx, never a 5xx and never silence (each request has a deadline): a multipart
 * body without its boundary, a truncated DICOM instance, a query string of 100 kB, a query key
 * that is no attribute; and, reported without failing the run, what real clients send that the
 * RFCs frown on: a boundary longer than 70 characters, an empty Expect header (libcurl-based tools).
 */
import { randomBytes } from 'node:crypto';
import { verdict, type Check, type Verdict } from '../check.js';
import { describeReply, type Reply } from '../client.js';
import { ownStudies, stored, type SuiteContext } from '../context.js';
import { buildInstance, newUid, throwawaySpec } from '../instances.js';
import { stowBody } from '../multipart.js';

const SECTION = 'PS3.18 §8.6';

function clientError(reply: Reply, expected = 'a 4xx, not a 5xx'): Verdict {
  return verdict(reply.status >= 400 && reply.status < 500, expected, describeReply(reply));
}

/** A throwaway instance of a study of its own (recorded for clean-up). */
function throwaway(context: SuiteContext): Uint8Array {
  const study = newUid();
  context.created.push(study);
  return buildInstance(throwawaySpec(context.run, { study, series: newUid(), sop: newUid() }));
}

/** The robustness checks. */
export const ROBUSTNESS_CHECKS: Check[] = [
  {
    id: 'robustness-bad-multipart',
    section: `${SECTION}.1.2, RFC 2046 §5.1`,
    title: 'A STOW-RS body that does not contain its boundary is a 4xx',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const reply = await context.client.request('POST', '/studies', {
        body: 'no boundary here at all\r\n',
        headers: { 'Content-Type': 'multipart/related; type="application/dicom"; boundary=conformance-missing' },
        accept: 'application/dicom+json',
      });
      return clientError(reply);
    },
  },
  {
    id: 'robustness-truncated-dicom',
    section: `${SECTION}, PS3.10 §7`,
    title: 'A truncated DICOM instance (its Pixel Data cut short) is refused with a 4xx',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const bytes = throwaway(context);
      const { body, contentType } = stowBody([bytes.subarray(0, bytes.length - 40)]);
      return clientError(await context.client.request('POST', '/studies', { body, headers: { 'Content-Type': contentType }, accept: 'application/dicom+json' }), 'a 4xx (409 with a FailedSOPSequence, or 400)');
    },
  },
  {
    id: 'robustness-long-query',
    section: 'PS3.18 §8.3.4, RFC 9110 §15.5.15',
    title: 'A QIDO-RS query string of 100 kB is a 4xx (414, 431 or 400), never a 5xx or a hang',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const reply = await context.client.get(`/studies?PatientName=${'A'.repeat(100_000)}`, 'application/dicom+json');
      return clientError(reply, 'a 4xx (414, 431 or 400)');
    },
  },
  {
    id: 'robustness-unknown-query-key',
    section: 'PS3.18 §8.3.4.1',
    title: 'A query key that is no attribute is refused (400) or ignored (200), never a 5xx',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      stored(context.fixture.main);
      const reply = await context.client.get(`/studies?StudyInstanceUID=${ownStudies(context.fixture)}&NoSuchAttributeKeyword=1`, 'application/dicom+json');
      return verdict(reply.status === 400 || reply.status === 200, '400 (refused with a reason) or 200 (ignored)', describeReply(reply));
    },
  },
  {
    id: 'robustness-long-boundary',
    section: 'RFC 2046 §5.1.1, RFC 2387',
    title: "STOW-RS with a 73-character boundary (what Orthanc's DICOMweb client sends, beyond RFC 2046's 70) stores the instance",
    profile: 'dicomweb',
    required: false,
    run: async (context) => {
      const { body, contentType } = stowBody([throwaway(context)], `${'b'.repeat(41)}${randomBytes(16).toString('hex')}`);
      const reply = await context.client.request('POST', '/studies', { body, headers: { 'Content-Type': contentType }, accept: 'application/dicom+json' });
      return verdict(reply.status === 200, 'status 200', describeReply(reply));
    },
  },
  {
    id: 'robustness-empty-expect',
    section: 'RFC 9110 §10.1.1',
    title: 'STOW-RS with an empty Expect header (libcurl- and httplib-based tools) stores the instance',
    profile: 'dicomweb',
    required: false,
    run: async (context) => {
      const { body, contentType } = stowBody([throwaway(context)]);
      const reply = await context.client.raw('POST', '/studies', { 'Content-Type': contentType, Accept: 'application/dicom+json', Expect: '', 'Content-Length': String(body.length) }, body);
      return verdict(reply.status === 200, 'status 200', describeReply(reply));
    },
  },
];
