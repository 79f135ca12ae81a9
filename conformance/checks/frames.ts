/**
 * WADO-RS frames (PS3.18 §10.4, §8.7.3.5.2): frame numbers are 1-based; a list returns one part
 * per frame in the order asked; a frame number outside the instance is a client error.
 */
import { allOf, verdict, type Check } from '../check.js';
import { describeReply } from '../client.js';
import { pathOf, stored, type StoredInstance } from '../context.js';
import { SIZE, pixelValue } from '../instances.js';
import { parseMultipart } from '../multipart.js';

const SECTION = 'PS3.18 §10.4';
const OCTETS = 'multipart/related; type="application/octet-stream"; transfer-syntax=*';

/** The bytes of frame `n` (1-based) of the suite's instances. */
function frameBytes(n: number): Buffer {
  return Buffer.from(Array.from({ length: SIZE * SIZE }, (_, i) => pixelValue(n - 1, i)));
}

function multiframe(instances: StoredInstance[]): StoredInstance {
  return instances.find((i) => i.frames > 1)!;
}

/** The frames checks. */
export const FRAMES_CHECKS: Check[] = [
  {
    id: 'frames-single',
    section: SECTION,
    title: 'Frame 2 of a 3-frame instance is its second frame (frame numbers are 1-based)',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const instance = multiframe(stored(context.fixture.main).instances);
      const reply = await context.client.get(`${pathOf(instance, 'instance')}/frames/2`, OCTETS);
      const parts = reply.status === 200 ? parseMultipart(reply.body, reply.contentType) : [];
      return verdict(
        parts.length === 1 && parts[0].bytes.equals(frameBytes(2)),
        '200, one part with the bytes of frame 2',
        `${describeReply(reply)}, ${parts.length} parts${parts[0]?.bytes.equals(frameBytes(1)) ? ' (frame 1: numbers read as 0-based)' : ''}`,
      );
    },
  },
  {
    id: 'frames-list',
    section: SECTION,
    title: 'frames/3,1 returns two parts, frame 3 then frame 1',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const instance = multiframe(stored(context.fixture.main).instances);
      const reply = await context.client.get(`${pathOf(instance, 'instance')}/frames/3,1`, OCTETS);
      const parts = reply.status === 200 ? parseMultipart(reply.body, reply.contentType) : [];
      const order = parts.map((p) => [1, 2, 3].find((n) => p.bytes.equals(frameBytes(n))) ?? '?').join(',');
      return verdict(order === '3,1', '200, parts: frame 3, frame 1', `${describeReply(reply)}, parts: ${order || 'none'}`);
    },
  },
  {
    id: 'frames-out-of-range',
    section: SECTION,
    title: 'Frame 0 and a frame past the last are client errors (4xx), never a 5xx or a frame',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const instance = multiframe(stored(context.fixture.main).instances);
      const replies = await Promise.all(['0', '4'].map((n) => context.client.get(`${pathOf(instance, 'instance')}/frames/${n}`, OCTETS)));
      return allOf(replies.map((r, i) => verdict(r.status >= 400 && r.status < 500, `frames/${i === 0 ? 0 : 4}: a 4xx`, describeReply(r))));
    },
  },
];
