/**
 * Cost of authorization per request (not a test: nothing asserts a duration). Prints microseconds
 * per operation on the example policy (`config/policy.example.yaml`, 14 rules):
 * building an ability (cached: the usual case; uncached: a new subject or rule set), one decision
 * on a study, one view, one studyFilter (cached per ability) and its SQL compiled by Kysely.
 *
 *   node --import tsx bench/policy.ts
 */
import { Kysely, SqliteDialect } from 'kysely';
import type { CatalogDatabase } from '../gateway/catalog/schema.js';
import type { Environment, StudyResource, Subject } from '../gateway/access/model.js';
import { loadPolicy } from '../gateway/access/policy/policy.js';

const policy = loadPolicy(new URL('../config/policy.example.yaml', import.meta.url).pathname);
const env: Environment = { time: new Date('2026-03-03T09:00:00Z'), clientAddress: '::ffff:10.1.2.3', purpose: 'TREAT' };
const subject: Subject = { name: 'alice', role: 'radiologist', attributes: { institution: 'CHU', department: 'radiology', team: 'teleradiology' }, method: 'password' };
const studies: StudyResource[] = Array.from({ length: 64 }, (_, i) => ({
  study: `1.2.3.${i}`,
  institution: i % 3 === 0 ? 'CHU' : 'Clinique',
  department: i % 2 === 0 ? 'radiology' : null,
  modality: i % 4 === 0 ? ['CT', 'SR'] : ['US'],
  referringPhysician: 'Doe^John',
  studyDate: `2024${String((i % 12) + 1).padStart(2, '0')}15`,
  confidentiality: i % 7 === 0 ? 'V' : 'N',
  patientId: `P${i}`,
  accessionNumber: null,
}));
// A dialect only to compile SQL (no database is opened).
const db = new Kysely<CatalogDatabase>({ dialect: new SqliteDialect({ database: async () => ({}) as never }) });

/** Microseconds per call of `body`, after a warm-up, over at least 200 ms. */
function measure(name: string, body: (i: number) => unknown): void {
  for (let i = 0; i < 2000; i++) body(i);
  let calls = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0n;
  while (elapsed < 200_000_000n) {
    for (let i = 0; i < 1000; i++) body(calls + i);
    calls += 1000;
    elapsed = process.hrtime.bigint() - start;
  }
  console.log(`${name.padEnd(44)} ${(Number(elapsed) / 1000 / calls).toFixed(2).padStart(8)} µs`);
}

let sink: unknown;
console.log(`policy: ${policy.source} (${policy.document.rules.length} rules), Node ${process.version}`);
measure('abilityFor (cached)', () => (sink = policy.abilityFor(subject, env)));
measure('abilityFor (uncached: a new subject each time)', (i) => {
  const ability = policy.abilityFor({ ...subject, name: `user${i}` }, env);
  sink = ability.can('read', studies[i % studies.length]);
});
const ability = policy.abilityFor(subject, env);
measure('can(read, study)', (i) => (sink = ability.can('read', studies[i % studies.length])));
measure('view(read, study)', (i) => (sink = ability.view('read', studies[i % studies.length])));
measure('studyFilter(search) (cached per ability)', () => (sink = ability.studyFilter('search')));
measure('studyFilter(search) SQL compiled by Kysely', () => {
  const filter = ability.studyFilter('search');
  sink =
    filter.kind === 'where'
      ? db
          .selectFrom('studies as st')
          .select('st.study_uid')
          .where((eb) => filter.expression(eb, 'st'))
          .compile()
      : filter;
});
measure('per request: abilityFor + can + view', (i) => {
  const a = policy.abilityFor(subject, env);
  sink = [a.can('read', studies[i % studies.length]), a.view('read', studies[i % studies.length])];
});
void sink;
