/**
 * WADO-RS retrieval of whole instances (PS3.18 §10.4, §8.7.3.5): with `transfer-syntax=*` the
 * origin server returns the instances in the transfer syntax it holds them in, so what comes back
 * is exactly what was stored, at the instance, series and study levels, one part per instance,
 * and nothing else. Unknown resources are 404.
 */
import { allOf, verdict, type Check, type Verdict } from '../check.js';
import { describeReply } from '../client.js';
import { pathOf, stored, type StoredInstance, type SuiteContext } from '../context.js';
import { newUid } from '../instances.js';
import { parseMultipart } from '../multipart.js';

const SECTION = 'PS3.18 §10.4';
/** The Accept header that asks for instances as stored. */
export const AS_STORED = 'multipart/related; type="application/dicom"; transfer-syntax=*';

/** The retrieve checks. */
export const RETRIEVE_CHECKS: Check[] = [
  {
    id: 'retrieve-instance-as-stored',
    section: `${SECTION}.1, §8.7.3.5`,
    title: 'An instance retrieved with transfer-syntax=* is byte-identical to what was stored',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const study = stored(context.fixture.main);
      return allOf(await Promise.all(study.instances.map((i) => retrieved(context, pathOf(i, 'instance'), [i]))));
    },
  },
  {
    id: 'retrieve-series-as-stored',
    section: `${SECTION}.1`,
    title: 'A series retrieved with transfer-syntax=* holds exactly its instances, byte-identical',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const study = stored(context.fixture.main);
      const first = study.instances.filter((i) => i.series === study.instances[0].series);
      return retrieved(context, pathOf(first[0], 'series'), first);
    },
  },
  {
    id: 'retrieve-study-as-stored',
    section: `${SECTION}.1`,
    title: 'A study retrieved with transfer-syntax=* holds exactly its instances, byte-identical',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const study = stored(context.fixture.main);
      return retrieved(context, pathOf(study.instances[0], 'study'), study.instances);
    },
  },
  {
    id: 'retrieve-unknown-404',
    section: `${SECTION}.3`,
    title: 'Retrieving a study, series or instance that does not exist answers 404',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const study = stored(context.fixture.main);
      const probes = [`/studies/${newUid()}`, `/studies/${study.uid}/series/${newUid()}`, `/studies/${study.uid}/series/${study.instances[0].series}/instances/${newUid()}`];
      const replies = await Promise.all(probes.map((path) => context.client.get(path, AS_STORED)));
      return verdict(
        replies.every((r) => r.status === 404),
        '404 for an unknown study, series and instance',
        replies.map((r) => r.status).join(', '),
      );
    },
  },
];

/** GETs `path` as stored and compares the parts with `expected` (in any order). */
export async function retrieved(context: SuiteContext, path: string, expected: StoredInstance[]): Promise<Verdict> {
  const reply = await context.client.get(path, AS_STORED);
  if (reply.status !== 200) return verdict(false, `GET ${path}: 200`, describeReply(reply));
  if (!reply.contentType.toLowerCase().startsWith('multipart/related')) return verdict(false, 'Content-Type multipart/related', reply.contentType);
  const parts = parseMultipart(reply.body, reply.contentType);
  const unmatched = [...expected];
  let foreign = 0;
  for (const part of parts) {
    const at = unmatched.findIndex((i) => part.bytes.equals(i.bytes));
    if (at >= 0) unmatched.splice(at, 1);
    else foreign++;
  }
  return verdict(unmatched.length === 0 && foreign === 0, `${expected.length} parts, each byte-identical to a stored instance`, `${parts.length} parts, ${unmatched.length} instances missing, ${foreign} parts that match no stored instance`);
}
