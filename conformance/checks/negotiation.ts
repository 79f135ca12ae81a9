/**
 * Media types and Accept negotiation (PS3.18 §8.7.3-§8.7.5, RFC 9110 §12.5.1): q-values order the
 * client's preferences and a range the server cannot give is passed over, not fatal; `*\/*` and
 * no Accept at all get the resource's default representation; what OHIF sends for frames
 * (`multipart/related; type="application/octet-stream"; transfer-syntax=*`) is served; a media
 * type the server cannot give at all is 406; JSON is labelled exactly `application/dicom+json`.
 */
import { allOf, verdict, type Check } from '../check.js';
import { describeReply } from '../client.js';
import { ownStudies, pathOf, stored } from '../context.js';
import { SIZE, pixelValue } from '../instances.js';
import { parseMultipart } from '../multipart.js';
import { AS_STORED } from './retrieve.js';

const SECTION = 'PS3.18 §8.7';

/** The negotiation checks. */
export const NEGOTIATION_CHECKS: Check[] = [
  {
    id: 'negotiation-q-values',
    section: `${SECTION}.3, RFC 9110 §12.5.1`,
    title: 'A preferred (higher q) media type the server cannot give is passed over for an acceptable one: 200, not 406',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const instance = stored(context.fixture.main).instances[0];
      const reply = await context.client.get(pathOf(instance, 'instance'), `text/html;q=1.0, ${AS_STORED};q=0.5`);
      const parts = reply.status === 200 ? parseMultipart(reply.body, reply.contentType) : [];
      return verdict(parts.length === 1 && parts[0].bytes.equals(instance.bytes), '200, the instance as stored', `${describeReply(reply)}, ${parts.length} parts`);
    },
  },
  {
    id: 'negotiation-any-and-none',
    section: `${SECTION}.3.5`,
    title: 'Accept */* and no Accept header both retrieve the instance as multipart/related; type="application/dicom"',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const instance = stored(context.fixture.main).instances[0];
      // fetch adds Accept: */* when none is given: node:http sends the request without one.
      const replies = [await context.client.get(pathOf(instance, 'instance'), '*/*'), await context.client.raw('GET', pathOf(instance, 'instance'), {})];
      return allOf(
        replies.map((reply, i) => {
          const ok = reply.status === 200 && reply.contentType.toLowerCase().startsWith('multipart/related') && parseMultipart(reply.body, reply.contentType).some((p) => p.bytes.equals(instance.bytes));
          return verdict(ok, `${i === 0 ? 'Accept */*' : 'no Accept'}: 200 multipart/related with the instance`, describeReply(reply));
        }),
      );
    },
  },
  {
    id: 'negotiation-ohif-frames',
    section: `${SECTION}.3, §10.4`,
    title: 'What OHIF sends for frames, multipart/related; type="application/octet-stream"; transfer-syntax=*, returns the frame',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const instance = stored(context.fixture.main).instances[0];
      const reply = await context.client.get(`${pathOf(instance, 'instance')}/frames/1`, 'multipart/related; type="application/octet-stream"; transfer-syntax=*');
      const parts = reply.status === 200 ? parseMultipart(reply.body, reply.contentType) : [];
      const frame = Buffer.from(Array.from({ length: SIZE * SIZE }, (_, i) => pixelValue(0, i)));
      return verdict(parts.length === 1 && parts[0].bytes.equals(frame), '200, one part with the 64 pixel bytes of frame 1', `${describeReply(reply)}, ${parts.length} parts`);
    },
  },
  {
    id: 'negotiation-duplicated-parameters',
    section: `${SECTION}.3, RFC 9110 §5.6.6`,
    title: 'An Accept range with a duplicated parameter is answered (served, or a 400/406), never a 5xx',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const instance = stored(context.fixture.main).instances[0];
      const reply = await context.client.get(pathOf(instance, 'instance'), 'multipart/related; type="application/dicom"; type="application/dicom"; transfer-syntax=*');
      return verdict(reply.status === 200 || reply.status === 400 || reply.status === 406, '200, 400 or 406', describeReply(reply));
    },
  },
  {
    id: 'negotiation-unsupported-406',
    section: `${SECTION}.3, §8.7.1`,
    title: 'A media type the server cannot provide for the resource answers 406',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const instance = stored(context.fixture.main).instances[0];
      const replies = [await context.client.get(pathOf(instance, 'instance'), 'application/x-conformance-unknown'), await context.client.get(`${pathOf(instance, 'instance')}/metadata`, 'application/x-conformance-unknown')];
      return verdict(
        replies.every((r) => r.status === 406),
        '406 for the instance and for its metadata',
        replies.map((r) => describeReply(r)).join('; '),
      );
    },
  },
  {
    id: 'negotiation-json-media-type',
    section: `${SECTION}.4, §F.2`,
    title: 'DICOM JSON is labelled exactly application/dicom+json (some clients compare the media type exactly)',
    profile: 'dicomweb',
    required: false,
    run: async (context) => {
      const reply = await context.client.get(`/studies?StudyInstanceUID=${ownStudies(context.fixture)}`, 'application/dicom+json');
      return verdict(reply.contentType === 'application/dicom+json', 'Content-Type: application/dicom+json', `Content-Type: ${reply.contentType}`);
    },
  },
];
