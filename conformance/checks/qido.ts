/**
 * QIDO-RS (PS3.18 §10.6, matching per §8.3.4 and PS3.4 C.2.2.2): single value, wildcard (`*`,
 * `?`), range and UID list matching, fuzzymatching accepted, includefield, the attributes every
 * result carries at each level (PS3.18 Tables 10.6.3-3 to 10.6.3-5, with the unique keys of the
 * parent levels), and paging with limit/offset that neither repeats nor loses a match. Every query
 * is confined to the suite's own studies by a StudyInstanceUID list.
 */
import { allOf, verdict, type Check, type Verdict } from '../check.js';
import { ownStudies, stored, type Fixture, type SuiteContext } from '../context.js';
import { dataSets, firstValue, TAG, valuesOf, type JsonDataSet } from '../dicom-json.js';

const SECTION = 'PS3.18 §10.6';

/** The studies of `/studies?StudyInstanceUID=<own>&query`. */
async function studies(context: SuiteContext, query: string): Promise<JsonDataSet[]> {
  const path = `/studies?StudyInstanceUID=${ownStudies(context.fixture)}${query ? `&${query}` : ''}`;
  return dataSets(await context.client.get(path, 'application/dicom+json'), `GET ${path.slice(0, 120)}`);
}

/** Which of the fixture's studies (ALPHA, BETA, GAMMA) `sets` are, sorted. */
function names(fixture: Fixture, sets: JsonDataSet[]): string {
  const byUid = new Map([fixture.main, fixture.second, fixture.doomed].map((s) => [s.uid, s.patientName.split('^')[1]]));
  return (
    sets
      .map((s) => byUid.get(firstValue(s, TAG.studyUid) ?? '') ?? 'other')
      .sort()
      .join(',') || '(none)'
  );
}

/** A query that must match exactly `expected` (patient name suffixes, sorted). */
function matching(id: string, title: string, section: string, cases: Array<[query: string, expected: string]>): Check {
  return {
    id,
    section,
    title,
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      stored(context.fixture.main);
      const verdicts: Verdict[] = [];
      for (const [query, expected] of cases) {
        const found = names(context.fixture, await studies(context, query));
        verdicts.push(verdict(found === expected, `${query}: ${expected}`, found));
      }
      return allOf(verdicts);
    },
  };
}

/** The QIDO-RS checks. */
export const QIDO_CHECKS: Check[] = [
  matching('qido-uid-list', 'A list of Study Instance UIDs matches exactly those studies', `${SECTION}, §8.3.4.1`, [['', 'ALPHA,BETA,GAMMA']]),
  matching('qido-single-value', 'Single value matching on PatientName, AccessionNumber and StudyDate', `${SECTION}, PS3.4 C.2.2.2.1`, [
    ['PatientName=CONFORMANCE^BETA', 'BETA'],
    ['StudyDate=19990307', 'ALPHA'],
  ]),
  matching('qido-wildcards', 'Wildcard matching: * for any characters, ? for one', `${SECTION}, PS3.4 C.2.2.2.4`, [
    ['PatientName=CONFORMANCE^AL*', 'ALPHA'],
    ['PatientName=CONFORMANCE^?ETA', 'BETA'],
    ['PatientName=*', 'ALPHA,BETA,GAMMA'],
  ]),
  matching('qido-percent-encoded', 'A percent-encoded query value (^ as %5E, what encodeURIComponent sends) is decoded before matching', 'PS3.18 §8.3.4, RFC 3986 §2.1', [['PatientName=CONFORMANCE%5EBETA', 'BETA']]),
  matching('qido-date-range', 'Date range matching: closed, open below and open above', `${SECTION}, PS3.4 C.2.2.2.5`, [
    ['StudyDate=19990101-20021231', 'ALPHA,BETA'],
    ['StudyDate=-19991231', 'ALPHA'],
    ['StudyDate=20050101-', 'GAMMA'],
  ]),
  {
    id: 'qido-accession-exact',
    section: `${SECTION}, PS3.4 C.2.2.2.1`,
    title: 'AccessionNumber matches exactly one study',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const sets = await studies(context, `AccessionNumber=${stored(context.fixture.second).accessionNumber}`);
      return verdict(names(context.fixture, sets) === 'BETA', 'BETA', names(context.fixture, sets));
    },
  },
  {
    id: 'qido-fuzzymatching-accepted',
    section: `${SECTION}.1.2, §8.3.4.2`,
    title: 'fuzzymatching=true is accepted (200) and still finds the exact match',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      stored(context.fixture.main);
      const found = names(context.fixture, await studies(context, 'fuzzymatching=true&PatientName=CONFORMANCE^ALPHA'));
      return verdict(found.split(',').includes('ALPHA'), 'ALPHA among the matches', found);
    },
  },
  {
    id: 'qido-includefield',
    section: `${SECTION}.1.2, §8.3.4.3`,
    title: 'includefield adds an attribute of the study level not returned by default (PatientBirthDate)',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const [set] = await studies(context, `StudyDate=19990307&includefield=00100030`);
      return verdict(set !== undefined && firstValue(set, TAG.patientBirthDate) === '19700101', 'PatientBirthDate 19700101', set ? (JSON.stringify(set[TAG.patientBirthDate]) ?? 'absent') : 'no match');
    },
  },
  {
    id: 'qido-includefield-lower-level',
    section: `${SECTION}.1.2, §8.3.4.3`,
    title: 'includefield of an attribute of a lower level (InstitutionName at the study level) is returned',
    profile: 'dicomweb',
    required: false,
    run: async (context) => {
      const [set] = await studies(context, `StudyDate=19990307&includefield=InstitutionName`);
      return verdict(set !== undefined && firstValue(set, TAG.institutionName) === 'Conformance Institute', 'InstitutionName Conformance Institute', set ? (JSON.stringify(set[TAG.institutionName]) ?? 'absent') : 'no match');
    },
  },
  {
    id: 'qido-study-defaults',
    section: `${SECTION}.3, Table 10.6.3-3`,
    title: 'Study results carry the default study attributes, with the right counts of series and instances',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const [set] = await studies(context, 'StudyDate=19990307');
      if (set === undefined) return verdict(false, 'one match', 'none');
      const expected: Record<string, string | undefined> = {
        [TAG.studyUid]: context.fixture.main.uid,
        [TAG.studyDate]: '19990307',
        [TAG.accessionNumber]: context.fixture.main.accessionNumber,
        [TAG.patientName]: context.fixture.main.patientName,
        [TAG.patientId]: `CONF-${context.run}`,
        [TAG.modalitiesInStudy]: 'OT',
        [TAG.studyRelatedSeries]: '2',
        [TAG.studyRelatedInstances]: '3',
      };
      return attributes(set, expected);
    },
  },
  {
    id: 'qido-series-defaults',
    section: `${SECTION}.3, Table 10.6.3-4`,
    title: 'Series results under a study carry the default series attributes and the Study Instance UID',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const study = stored(context.fixture.main);
      const sets = dataSets(await context.client.get(`/studies/${study.uid}/series`, 'application/dicom+json'), 'series of the study');
      const verdicts = [verdict(sets.length === 2, '2 series', `${sets.length}`)];
      for (const set of sets) {
        const count = study.instances.filter((i) => i.series === firstValue(set, TAG.seriesUid)).length;
        verdicts.push(attributes(set, { [TAG.studyUid]: study.uid, [TAG.modality]: 'OT', [TAG.seriesRelatedInstances]: String(count), [TAG.seriesNumber]: firstValue(set, TAG.seriesNumber) ?? '(a value)' }));
      }
      return allOf(verdicts);
    },
  },
  {
    id: 'qido-instance-defaults',
    section: `${SECTION}.3, Table 10.6.3-5`,
    title: 'Instance results under a series carry the default instance attributes and the Study and Series Instance UIDs',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const study = stored(context.fixture.main);
      const series = study.instances[0].series;
      const sets = dataSets(await context.client.get(`/studies/${study.uid}/series/${series}/instances`, 'application/dicom+json'), 'instances of the series');
      const verdicts = [
        verdict(
          JSON.stringify(valuesOf(sets, TAG.sopUid)) ===
            JSON.stringify(
              study.instances
                .filter((i) => i.series === series)
                .map((i) => i.sop)
                .sort(),
            ),
          'the 2 instances of the series',
          `${sets.length}`,
        ),
      ];
      for (const set of sets) verdicts.push(attributes(set, { [TAG.studyUid]: study.uid, [TAG.seriesUid]: series, [TAG.sopClassUid]: '1.2.840.10008.5.1.4.1.1.7', [TAG.instanceNumber]: firstValue(set, TAG.instanceNumber) ?? '(a value)' }));
      return allOf(verdicts);
    },
  },
  {
    id: 'qido-paging',
    section: `${SECTION}.1.2, §8.3.4.4`,
    title: 'limit=1 with offset 0, 1, 2, 3 pages through the 3 studies with no duplicate and no loss, then nothing',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      stored(context.fixture.main);
      const pages: string[][] = [];
      for (let offset = 0; offset < 4; offset++) pages.push((await studies(context, `limit=1&offset=${offset}`)).map((s) => firstValue(s, TAG.studyUid) ?? '?'));
      const seen = pages.slice(0, 3).flat();
      const ok = pages.slice(0, 3).every((p) => p.length === 1) && new Set(seen).size === 3 && pages[3].length === 0;
      return verdict(ok, 'pages of 1, 1, 1 distinct studies, then 0', `pages of ${pages.map((p) => p.length).join(', ')}; ${new Set(seen).size} distinct`);
    },
  },
];

/** Every attribute of `expected` is in `set` with that value. */
function attributes(set: JsonDataSet, expected: Record<string, string | undefined>): Verdict {
  const wrong = Object.entries(expected).filter(([tag, value]) => firstValue(set, tag) !== value);
  return verdict(
    wrong.length === 0,
    Object.keys(expected).join(' ') + ' with the stored values',
    wrong.length === 0 ? 'all present' : wrong.map(([tag, value]) => `${tag}: ${firstValue(set, tag) ?? 'absent'} (expected ${value})`).join(', '),
  );
}
