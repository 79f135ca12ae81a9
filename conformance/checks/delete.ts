/**
 * DELETE of a study (`DELETE /studies/{study}`, not a transaction of PS3.18's Studies Service but
 * offered by archives): optional. A server that deletes answers 200, 202 or 204 and then no longer serves or lists the study; a server that does not
 * answers 405, reported as a deviation (the suite then leaves its data behind and says so).
 */
import { allOf, verdict, type Check } from '../check.js';
import { describeReply } from '../client.js';
import { stored } from '../context.js';
import { dataSets, TAG, valuesOf } from '../dicom-json.js';

/** The DELETE check. */
export const DELETE_CHECKS: Check[] = [
  {
    id: 'delete-study',
    section: 'DELETE (outside PS3.18; offered by archives)',
    title: 'DELETE of a study answers 200/202/204; the study is then 404 and no longer found by QIDO',
    profile: 'dicomweb',
    required: false,
    run: async (context) => {
      const study = stored(context.fixture.doomed);
      const reply = await context.client.request('DELETE', `/studies/${study.uid}`);
      if (![200, 202, 204].includes(reply.status)) return verdict(false, 'DELETE: 200, 202 or 204', describeReply(reply));
      study.deleted = true;
      const after = await context.client.get(`/studies/${study.uid}/metadata`, 'application/dicom+json');
      const found = dataSets(await context.client.get(`/studies?StudyInstanceUID=${study.uid}`, 'application/dicom+json'), 'QIDO after DELETE');
      return allOf([
        verdict(true, 'DELETE: 200, 202 or 204', `${reply.status}`),
        verdict(after.status === 404, 'metadata afterwards: 404', `${after.status}`),
        verdict(found.length === 0, 'QIDO afterwards: no match', valuesOf(found, TAG.studyUid).join(', ') || 'no match'),
      ]);
    },
  },
];
