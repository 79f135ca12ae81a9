/**
 * Rendered resources (PS3.18 §10.4, §8.7.4): optional for an origin server. An instance rendered
 * as JPEG or PNG is an image of that type; a server that does not render says so with 406 (or
 * another clean 4xx), never a 5xx.
 */
import { verdict, type Check } from '../check.js';
import { describeReply } from '../client.js';
import { pathOf, stored } from '../context.js';

/** The magic numbers of the rendered media types asked for. */
const MAGIC: Record<string, Buffer> = { 'image/jpeg': Buffer.from([0xff, 0xd8, 0xff]), 'image/png': Buffer.from([0x89, 0x50, 0x4e, 0x47]) };

/** The rendered checks. */
export const RENDERED_CHECKS: Check[] = Object.entries(MAGIC).map(([type, magic]) => ({
  id: `rendered-${type.split('/')[1]}`,
  section: 'PS3.18 §10.4, §8.7.4',
  title: `An instance rendered as ${type} is a ${type} image (or a clean 406 when the server does not render)`,
  profile: 'dicomweb' as const,
  required: false,
  run: async (context) => {
    const instance = stored(context.fixture.main).instances[0];
    const reply = await context.client.get(`${pathOf(instance, 'instance')}/rendered`, type);
    if (reply.status === 200) return verdict(reply.contentType.startsWith(type) && reply.body.subarray(0, magic.length).equals(magic), `200 ${type} with its magic number`, `${describeReply(reply)}`);
    return verdict(reply.status === 406, `200 ${type}, or 406`, describeReply(reply));
  },
}));
