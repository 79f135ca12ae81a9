/**
 * Export as DICOM audit messages (PS3.15 A.5): each kind of event gets the EventID, action code,
 * type codes, outcome indicator, participants and participant objects the standard gives it; the
 * record's seq, MAC and key id come along; --from/--to select by time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Catalog } from '../../../../gateway/catalog/catalog.js';
import { exportAuditTrail } from '../../../../gateway/access/audit/export.js';
import type { DicomAuditMessage } from '../../../../gateway/access/audit/dicom-message.js';
import { AuditTrail } from '../../../../gateway/access/audit/trail.js';
import type { AuditEvent } from '../../../../gateway/access/audit/event.js';
import { Keyring } from '../../../../gateway/keys/keyring.js';
import { memoryKey, recordingLogger, sampleEvent, temporaryCatalog } from '../../../support/audit.js';

const SOURCE = 'aegis@test-host';

/** [event, EventID, EventActionCode, EventTypeCode codes, EventOutcomeIndicator] */
const CASES: Array<[AuditEvent, string, string, string[], number]> = [
  [sampleEvent(1), '110104', 'R', [], 0],
  [sampleEvent(2, { action: 'search', resources: [], http: { method: 'GET', path: '/dicom-web/studies?PatientID=12345&limit=5', status: 200 } }), '110112', 'E', [], 0],
  [sampleEvent(3, { action: 'create', outcome: 'failure', reason: 'INVALID_DICOM' }), '110104', 'C', [], 4],
  [sampleEvent(4, { action: 'delete' }), '110105', 'D', [], 0],
  [sampleEvent(5, { action: 'delete', resources: [{ study: '1.2.3.5', series: '1.2.3.5.1' }] }), '110103', 'D', [], 0],
  [sampleEvent(6, { action: 'export', outcome: 'error', reason: 'BACKEND_UNAVAILABLE' }), '110106', 'R', [], 8],
  [sampleEvent(7, { outcome: 'denied', reason: 'policy: other institution', policyRule: 'same-institution' }), '110113', 'E', ['110132'], 4],
  [sampleEvent(8, { kind: 'authentication', operation: 'login', action: 'POST', resources: [], outcome: 'denied', reason: 'wrong password' }), '110114', 'E', ['110122'], 4],
  [sampleEvent(9, { kind: 'authentication', operation: 'logout', action: 'POST', resources: [] }), '110114', 'E', ['110123'], 0],
  [sampleEvent(10, { kind: 'break-glass', operation: 'start', action: 'read', purpose: 'ETREAT', breakGlass: { id: 'bg-1', reason: 'trauma' } }), '110113', 'E', ['110127'], 0],
  [sampleEvent(11, { kind: 'break-glass', operation: 'stop', action: 'read' }), '110113', 'E', ['110138'], 0],
  [sampleEvent(12, { kind: 'integrity', action: 'read', outcome: 'failure', reason: 'fragment region-1 failed authentication' }), '110113', 'E', ['integrity-failure'], 8],
  [sampleEvent(13, { kind: 'admin', operation: 'user', action: 'admin', resources: [] }), '110113', 'E', ['110137'], 0],
  [sampleEvent(14, { kind: 'admin', operation: 'roles', action: 'admin', resources: [] }), '110113', 'E', ['110136'], 0],
  [sampleEvent(15, { kind: 'admin', operation: 'keys', action: 'admin', resources: [] }), '110113', 'E', ['110129'], 0],
  [sampleEvent(16, { kind: 'admin', operation: 'audit-read', action: 'admin', resources: [] }), '110101', 'R', [], 0],
  [sampleEvent(17, { kind: 'application', operation: 'start', action: 'admin', actor: { name: SOURCE }, resources: [] }), '110100', 'E', ['110120'], 0],
  [sampleEvent(18, { action: 'GET', resources: [], outcome: 'failure', http: { method: 'GET', path: '/nope', status: 404 } }), 'http-request', 'R', [], 4],
  [sampleEvent(19, { kind: 'admin', operation: 'migrate', action: 'create', resources: [{ study: '1.2.3.9', series: '1.2.3.9.1', instance: '1.2.3.9.1.1' }] }), '110104', 'C', [], 0],
  [sampleEvent(20, { kind: 'admin', operation: 'migrate', action: 'delete', resources: [{ study: '1.2.3.9', series: '1.2.3.9.1', instance: '1.2.3.9.1.1' }] }), '110103', 'D', [], 0],
];

describe('exportAuditTrail', () => {
  let catalog: Catalog;
  let remove: () => Promise<void>;
  let messages: DicomAuditMessage[];

  before(async () => {
    ({ catalog, remove } = await temporaryCatalog('aegis-audit-export-'));
    const k1 = memoryKey('k1');
    const trail = new AuditTrail(catalog.db, new Keyring([k1], k1), recordingLogger());
    for (const [event] of CASES) trail.record(event);
    await trail.close();
    messages = [];
    for await (const message of exportAuditTrail(catalog.db, { sourceId: SOURCE, pageSize: 4 })) messages.push(message);
  });
  after(() => remove());

  it('maps every kind of event to its DICOM EventID, action, type codes and outcome', async () => {
    assert.equal(messages.length, CASES.length);
    CASES.forEach(([event, id, action, types, outcome], i) => {
      const e = messages[i].EventIdentification;
      const what = `${event.requestId} (${event.kind} ${event.action} ${event.outcome})`;
      assert.equal(e.EventID['csd-code'], id, `${what}: EventID`);
      assert.equal(e.EventID.codeSystemName, id === 'http-request' ? '99AEGIS' : 'DCM', `${what}: coding scheme`);
      assert.equal(e.EventActionCode, action, `${what}: EventActionCode`);
      assert.deepEqual(
        (e.EventTypeCode ?? []).map((c) => c['csd-code']),
        types,
        `${what}: EventTypeCode`,
      );
      assert.equal(e.EventOutcomeIndicator, outcome, `${what}: EventOutcomeIndicator`);
      assert.equal(e.EventOutcomeDescription, event.reason, `${what}: EventOutcomeDescription`);
      assert.equal(e.EventDateTime, event.time!.toISOString(), `${what}: EventDateTime`);
    });
  });

  it('carries seq, MAC and key id of each record, and the audit source', async () => {
    const rows = await catalog.db.selectFrom('audit_events').select(['seq', 'mac', 'key_id']).orderBy('seq').execute();
    assert.deepEqual(
      messages.map((m) => [m.seq, m.mac, m.keyId]),
      rows.map((r) => [r.seq, r.mac, r.key_id]),
    );
    for (const m of messages) assert.deepEqual(m.AuditSourceIdentification, { AuditSourceID: SOURCE, AuditSourceTypeCode: { code: '4', originalText: 'Application Server Process' } });
  });

  it('names the requestor with its address and roles, and the gateway as the other party', () => {
    const read = messages[0];
    assert.deepEqual(read.ActiveParticipant, [
      {
        UserID: 'alice',
        UserIsRequestor: true,
        RoleIDCode: [
          { 'csd-code': '110152', codeSystemName: 'DCM', originalText: 'Destination Role ID' },
          { 'csd-code': 'radiologist', codeSystemName: '99AEGIS', originalText: 'radiologist' },
        ],
        NetworkAccessPointID: '10.0.0.7',
        NetworkAccessPointTypeCode: 2,
      },
      { UserID: SOURCE, UserIsRequestor: false, RoleIDCode: [{ 'csd-code': '110153', codeSystemName: 'DCM', originalText: 'Source Role ID' }] },
    ]);
    assert.deepEqual(read.EventIdentification.PurposeOfUse, [{ 'csd-code': 'TREAT', codeSystemName: '2.16.840.1.113883.5.8', originalText: 'treatment' }]);
    const start = messages[16];
    assert.deepEqual(
      start.ActiveParticipant.map((p) => p.UserID),
      [SOURCE],
      'the gateway alone when it is the actor',
    );
  });

  it('identifies studies by Study Instance UID (110180), series and instances in the details, and queries by SOP Class (110181)', () => {
    assert.deepEqual(messages[0].ParticipantObjectIdentification, [
      { ParticipantObjectID: '1.2.3.1', ParticipantObjectTypeCode: 2, ParticipantObjectTypeCodeRole: 3, ParticipantObjectIDTypeCode: { 'csd-code': '110180', codeSystemName: 'DCM', originalText: 'Study Instance UID' } },
    ]);
    const series = messages[4].ParticipantObjectIdentification![0];
    assert.deepEqual(series.ParticipantObjectDetail, [{ type: 'SeriesInstanceUID', value: Buffer.from('1.2.3.5.1').toString('base64') }]);
    const [query] = messages[1].ParticipantObjectIdentification!;
    assert.equal(query.ParticipantObjectIDTypeCode['csd-code'], '110181');
    assert.equal(query.ParticipantObjectID, '1.2.840.10008.5.1.4.1.2.2.1');
    assert.equal(Buffer.from(query.ParticipantObjectQuery!, 'base64').toString('utf8'), 'PatientID=12345&limit=5');
    const [log] = messages[15].ParticipantObjectIdentification!;
    assert.equal(log.ParticipantObjectTypeCodeRole, 13);
    assert.equal(log.ParticipantObjectName, 'Security Audit Log');
    assert.equal(messages[7].ParticipantObjectIdentification, undefined, 'no objects for a sign-in');
  });

  it('keeps the stored event, break-glass included, and writes no undefined members', () => {
    const glass = messages[9];
    assert.equal(glass.Aegis.emergency, true);
    assert.deepEqual(glass.Aegis.breakGlass, { id: 'bg-1', reason: 'trauma' });
    assert.equal(glass.EventIdentification.PurposeOfUse![0]['csd-code'], 'ETREAT');
    assert.equal(messages[6].Aegis.policyRule, 'same-institution');
    for (const m of messages) assert.deepEqual(JSON.parse(JSON.stringify(m)), m, `message ${m.seq} is plain JSON`);
  });

  it('selects records by time: from inclusive, to exclusive', async () => {
    const selected: number[] = [];
    const from = CASES[2][0].time!;
    const to = CASES[5][0].time!;
    for await (const m of exportAuditTrail(catalog.db, { sourceId: SOURCE, from, to, pageSize: 2 })) selected.push(m.seq);
    assert.deepEqual(selected, [3, 4, 5]);
  });
});
