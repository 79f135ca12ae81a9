/**
 * Maps a stored audit event to the fields of a DICOM audit message (PS3.15 Annex A.5, which
 * specializes RFC 3881), as JSON with the field names of the standard's schema: EventIdentification,
 * ActiveParticipant, AuditSourceIdentification, ParticipantObjectIdentification. Coded values use
 * the schema's `csd-code`, `codeSystemName`, `originalText`. Codes are the DCM ones of A.5.3
 * (messages) and CID 403 (security alert types); where DICOM has none, a private coding scheme
 * `99AEGIS` (private designators begin with 99) says so rather than misusing a standard code.
 */
import type { Purpose } from '../model.js';
import type { AuditResource, StoredAuditEvent } from './event.js';

/** A coded value of the audit message schema. */
export interface CodedValue {
  'csd-code': string;
  codeSystemName: string;
  originalText: string;
}

/** One ActiveParticipant. */
export interface AuditParticipant {
  UserID: string;
  AlternativeUserID?: string;
  UserIsRequestor: boolean;
  RoleIDCode?: CodedValue[];
  NetworkAccessPointID?: string;
  /** 1 machine name, 2 IP address (RFC 3881). */
  NetworkAccessPointTypeCode?: 1 | 2;
}

/** One ParticipantObjectIdentification. */
export interface AuditParticipantObject {
  ParticipantObjectID: string;
  /** 2 = system object. */
  ParticipantObjectTypeCode: 2;
  /** 3 = report (a study, a query), 13 = security resource (the audit log). */
  ParticipantObjectTypeCodeRole: 3 | 13;
  ParticipantObjectIDTypeCode: CodedValue;
  ParticipantObjectName?: string;
  /** Base64 of the query (QIDO-RS query string). */
  ParticipantObjectQuery?: string;
  /** Series and SOP Instance UIDs of the study (values base64, as the schema's ValuePair). */
  ParticipantObjectDetail?: Array<{ type: 'SeriesInstanceUID' | 'SOPInstanceUID'; value: string }>;
}

/** A DICOM audit message for one record, with the record's `seq`, `mac` and `keyId` to correlate. */
export interface DicomAuditMessage {
  seq: number;
  mac: string;
  keyId: string;
  EventIdentification: {
    EventID: CodedValue;
    EventActionCode: 'C' | 'R' | 'U' | 'D' | 'E';
    EventDateTime: string;
    /** 0 success, 4 minor failure, 8 serious failure, 12 major failure. */
    EventOutcomeIndicator: 0 | 4 | 8 | 12;
    EventOutcomeDescription?: string;
    EventTypeCode?: CodedValue[];
    PurposeOfUse?: CodedValue[];
  };
  ActiveParticipant: AuditParticipant[];
  AuditSourceIdentification: { AuditSourceID: string; AuditSourceTypeCode: { code: '4'; originalText: 'Application Server Process' } };
  ParticipantObjectIdentification?: AuditParticipantObject[];
  /** The stored event itself (who, what, rule, break-glass, HTTP exchange), for what the fields above cannot hold. */
  Aegis: StoredAuditEvent;
}

const dcm = (code: string, text: string): CodedValue => ({ 'csd-code': code, codeSystemName: 'DCM', originalText: text });
const aegis = (code: string, text: string): CodedValue => ({ 'csd-code': code, codeSystemName: '99AEGIS', originalText: text });

/** EventID codes (PS3.15 A.5.3, CID 400). */
export const EVENT_ID = {
  applicationActivity: dcm('110100', 'Application Activity'),
  auditLogUsed: dcm('110101', 'Audit Log Used'),
  instancesAccessed: dcm('110103', 'DICOM Instances Accessed'),
  instancesTransferred: dcm('110104', 'DICOM Instances Transferred'),
  studyDeleted: dcm('110105', 'DICOM Study Deleted'),
  export: dcm('110106', 'Export'),
  query: dcm('110112', 'Query'),
  securityAlert: dcm('110113', 'Security Alert'),
  userAuthentication: dcm('110114', 'User Authentication'),
  /** No DICOM message fits an HTTP request that never became a DICOMweb action. */
  httpRequest: aegis('http-request', 'HTTP Request'),
} as const;

/** EventTypeCode codes (CID 401 to 403). */
export const EVENT_TYPE = {
  applicationStart: dcm('110120', 'Application Start'),
  applicationStop: dcm('110121', 'Application Stop'),
  login: dcm('110122', 'Login'),
  logout: dcm('110123', 'Logout'),
  emergencyOverrideStarted: dcm('110127', 'Emergency Override Started'),
  securityConfiguration: dcm('110129', 'Security Configuration'),
  useOfRestrictedFunction: dcm('110132', 'Use of Restricted Function'),
  securityRolesChanged: dcm('110136', 'Security Roles Changed'),
  userSecurityAttributesChanged: dcm('110137', 'User Security Attributes Changed'),
  emergencyOverrideStopped: dcm('110138', 'Emergency Override Stopped'),
  /** CID 403 has no code for stored data failing verification. */
  integrityFailure: aegis('integrity-failure', 'Integrity Check Failed'),
} as const;

/** RoleIDCode codes (CID 402). */
export const ROLE_ID = {
  application: dcm('110150', 'Application'),
  destination: dcm('110152', 'Destination Role ID'),
  source: dcm('110153', 'Source Role ID'),
} as const;

/** ParticipantObjectIDTypeCode codes. */
export const OBJECT_ID_TYPE = {
  studyInstanceUid: dcm('110180', 'Study Instance UID'),
  sopClassUid: dcm('110181', 'SOP Class UID'),
  uri: { 'csd-code': '12', codeSystemName: 'RFC-3881', originalText: 'URI' } as CodedValue,
} as const;

/** Study Root Query/Retrieve Information Model - FIND: the SOP Class a QIDO-RS query stands for. */
export const STUDY_ROOT_FIND = '1.2.840.10008.5.1.4.1.2.2.1';

const PURPOSE_TEXT: Record<Purpose, string> = { TREAT: 'treatment', ETREAT: 'emergency treatment', HRESCH: 'healthcare research' };

/** How an event maps: its EventID and action, type codes, the DCM roles of requestor and gateway, and which objects it names. */
interface EventShape {
  id: CodedValue;
  action: DicomAuditMessage['EventIdentification']['EventActionCode'];
  types?: CodedValue[];
  requestorRole?: CodedValue;
  gatewayRole?: CodedValue;
  objects: 'studies' | 'query' | 'audit-log';
}

const VERB_ACTION: Record<string, EventShape['action']> = { GET: 'R', HEAD: 'R', POST: 'C', PUT: 'U', PATCH: 'U', DELETE: 'D' };

function shapeOf(event: StoredAuditEvent): EventShape {
  const alert = (type: CodedValue, objects: EventShape['objects'] = 'studies'): EventShape => ({ id: EVENT_ID.securityAlert, action: 'E', types: [type], objects });
  switch (event.kind) {
    case 'authentication':
      return { id: EVENT_ID.userAuthentication, action: 'E', types: [event.operation === 'logout' ? EVENT_TYPE.logout : EVENT_TYPE.login], objects: 'studies' };
    case 'break-glass':
      return alert(event.operation === 'stop' ? EVENT_TYPE.emergencyOverrideStopped : EVENT_TYPE.emergencyOverrideStarted);
    case 'integrity':
      return alert(EVENT_TYPE.integrityFailure);
    case 'application':
      return { id: EVENT_ID.applicationActivity, action: 'E', types: [event.operation === 'stop' ? EVENT_TYPE.applicationStop : EVENT_TYPE.applicationStart], gatewayRole: ROLE_ID.application, objects: 'studies' };
    case 'admin':
      if (event.operation === 'audit-read') return { id: EVENT_ID.auditLogUsed, action: 'R', objects: 'audit-log' };
      if (event.operation === 'user') return alert(EVENT_TYPE.userSecurityAttributesChanged);
      if (event.operation === 'roles') return alert(EVENT_TYPE.securityRolesChanged);
      // An instance `aegis migrate` stored or deleted upstream is a transfer or a deletion like a request's.
      if (event.operation === 'migrate' && (event.action === 'create' || event.action === 'delete')) break;
      return alert(EVENT_TYPE.securityConfiguration);
    case 'request':
      break;
  }
  // PS3.15 A.5.3.10 note 1: access violations show up as Security Alerts.
  if (event.outcome === 'denied') return alert(EVENT_TYPE.useOfRestrictedFunction, event.action === 'search' ? 'query' : 'studies');
  switch (event.action) {
    case 'search':
      return { id: EVENT_ID.query, action: 'E', requestorRole: ROLE_ID.source, gatewayRole: ROLE_ID.destination, objects: 'query' };
    case 'read':
      return { id: EVENT_ID.instancesTransferred, action: 'R', requestorRole: ROLE_ID.destination, gatewayRole: ROLE_ID.source, objects: 'studies' };
    case 'create':
      return { id: EVENT_ID.instancesTransferred, action: 'C', requestorRole: ROLE_ID.source, gatewayRole: ROLE_ID.destination, objects: 'studies' };
    case 'delete': {
      const wholeStudies = event.resources.length > 0 && event.resources.every((r) => r.series === undefined && r.instance === undefined);
      return { id: wholeStudies ? EVENT_ID.studyDeleted : EVENT_ID.instancesAccessed, action: 'D', objects: 'studies' };
    }
    case 'export':
      return { id: EVENT_ID.export, action: 'R', gatewayRole: ROLE_ID.source, objects: 'studies' };
    case 'admin':
      return alert(EVENT_TYPE.useOfRestrictedFunction);
    default:
      return { id: EVENT_ID.httpRequest, action: VERB_ACTION[event.action] ?? 'E', objects: 'studies' };
  }
}

/** 0 success; 4 denied or failed for a reason of the request; 8 a gateway error or a failed integrity check. */
function outcomeIndicator(event: StoredAuditEvent): DicomAuditMessage['EventIdentification']['EventOutcomeIndicator'] {
  if (event.outcome === 'success') return 0;
  if (event.outcome === 'error' || event.kind === 'integrity') return 8;
  return 4;
}

/** The DICOM audit message of one record. `sourceId` identifies this gateway (AuditSourceID). */
export function toDicomAuditMessage(record: { seq: number; mac: string; keyId: string; at: string; event: StoredAuditEvent }, sourceId: string): DicomAuditMessage {
  const { event } = record;
  const shape = shapeOf(event);
  const actor = event.actor;
  const requestor: AuditParticipant = {
    UserID: actor.name,
    AlternativeUserID: actor.issuer,
    UserIsRequestor: true,
    RoleIDCode: compact([shape.requestorRole, actor.role === undefined ? undefined : aegis(actor.role, actor.role)]),
    NetworkAccessPointID: actor.clientAddress,
    NetworkAccessPointTypeCode: actor.clientAddress === undefined ? undefined : 2,
  };
  const gateway: AuditParticipant = { UserID: sourceId, UserIsRequestor: false, RoleIDCode: compact([shape.gatewayRole]) };
  const objects = participantObjects(shape.objects, event, sourceId);
  return dropUndefined({
    seq: record.seq,
    mac: record.mac,
    keyId: record.keyId,
    EventIdentification: {
      EventID: shape.id,
      EventActionCode: shape.action,
      EventDateTime: record.at,
      EventOutcomeIndicator: outcomeIndicator(event),
      EventOutcomeDescription: event.reason,
      EventTypeCode: shape.types,
      PurposeOfUse: event.purpose === undefined ? undefined : [{ 'csd-code': event.purpose, codeSystemName: '2.16.840.1.113883.5.8', originalText: PURPOSE_TEXT[event.purpose] }],
    },
    ActiveParticipant: actor.name === sourceId ? [gateway] : [requestor, gateway],
    AuditSourceIdentification: { AuditSourceID: sourceId, AuditSourceTypeCode: { code: '4', originalText: 'Application Server Process' } },
    ParticipantObjectIdentification: objects.length > 0 ? objects : undefined,
    Aegis: event,
  });
}

function participantObjects(kind: EventShape['objects'], event: StoredAuditEvent, sourceId: string): AuditParticipantObject[] {
  if (kind === 'audit-log') {
    return [{ ParticipantObjectID: `aegis:${sourceId}/audit-trail`, ParticipantObjectTypeCode: 2, ParticipantObjectTypeCodeRole: 13, ParticipantObjectIDTypeCode: OBJECT_ID_TYPE.uri, ParticipantObjectName: 'Security Audit Log' }];
  }
  if (kind === 'query') {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(event.http?.query ?? {})) for (const v of ([] as string[]).concat(value)) query.append(name, v);
    return [
      {
        ParticipantObjectID: STUDY_ROOT_FIND,
        ParticipantObjectTypeCode: 2,
        ParticipantObjectTypeCodeRole: 3,
        ParticipantObjectIDTypeCode: OBJECT_ID_TYPE.sopClassUid,
        ParticipantObjectQuery: Buffer.from(query.toString(), 'utf8').toString('base64'),
      },
    ];
  }
  return studiesOf(event.resources).map(([study, members]) => ({
    ParticipantObjectID: study,
    ParticipantObjectTypeCode: 2,
    ParticipantObjectTypeCodeRole: 3,
    ParticipantObjectIDTypeCode: OBJECT_ID_TYPE.studyInstanceUid,
    ParticipantObjectDetail: members.length > 0 ? members : undefined,
  }));
}

/** Resources grouped by study, with the series and instance UIDs named under each. */
function studiesOf(resources: readonly AuditResource[]): Array<[string, NonNullable<AuditParticipantObject['ParticipantObjectDetail']>]> {
  const studies = new Map<string, { details: NonNullable<AuditParticipantObject['ParticipantObjectDetail']>; series: Set<string> }>();
  const base64 = (uid: string) => Buffer.from(uid, 'ascii').toString('base64');
  for (const r of resources) {
    let study = studies.get(r.study);
    if (study === undefined) studies.set(r.study, (study = { details: [], series: new Set() }));
    if (r.series !== undefined && !study.series.has(r.series)) {
      study.series.add(r.series);
      study.details.push({ type: 'SeriesInstanceUID', value: base64(r.series) });
    }
    if (r.instance !== undefined) study.details.push({ type: 'SOPInstanceUID', value: base64(r.instance) });
  }
  return [...studies].map(([uid, study]) => [uid, study.details]);
}

function compact<T>(values: Array<T | undefined>): T[] | undefined {
  const kept = values.filter((v): v is T => v !== undefined);
  return kept.length > 0 ? kept : undefined;
}

/** A copy without undefined members, so that the JSON line carries only what is known. */
function dropUndefined<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
