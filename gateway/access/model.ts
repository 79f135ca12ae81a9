/**
 * The words of attribute-based access control (NIST SP 800-162) as Aegis uses them: the subject
 * (who asks, with their attributes), the action, the resource (a study, with attributes from the
 * catalog) and the environment (time, client network, purpose of use, break-glass). Shared by
 * authentication (which builds subjects), the policy (which decides) and the audit trail.
 */
import { GatewayError } from '../errors.js';

/** What a request does to a study. `admin` covers users, audit and stats. */
export const ACTIONS = ['search', 'read', 'create', 'delete', 'export', 'admin'] as const;
export type Action = (typeof ACTIONS)[number];

/** Purposes of use (HL7 v3 PurposeOfUse codes): treatment, emergency treatment, health research. */
export const PURPOSES = ['TREAT', 'ETREAT', 'HRESCH'] as const;
export type Purpose = (typeof PURPOSES)[number];

/** How a subject proved who they are. */
export type AuthenticationMethod = 'password' | 'basic' | 'api-key' | 'token' | 'oidc' | 'anonymous';

/** An authenticated subject: a local user, an OIDC identity, or the configured anonymous subject. */
export interface Subject {
  /** User name (local users), `sub` claim or mapped name claim (OIDC), `anonymous`. */
  name: string;
  role: string;
  /** Department, institution, licence, ...: strings, as in the users table or mapped from claims. */
  attributes: Readonly<Record<string, string>>;
  method: AuthenticationMethod;
  /** OIDC issuer, for subjects from an external identity provider. */
  issuer?: string;
  /** The issuer's identifier of the subject (OIDC `sub`), for subjects from an external identity provider. */
  externalId?: string;
}

/**
 * The key of a subject in whatever is kept per subject (break-glass grants): local users by name,
 * external identities by issuer and `sub` (OpenID Connect Core 1.0 §5.7: only that pair is unique
 * and stable; a name claim is neither, and may equal a local user's name). Throws INTERNAL for an
 * external subject without both: no other value stands in for them.
 */
export function subjectKey(subject: Subject): string {
  switch (subject.method) {
    case 'oidc':
      if (!subject.issuer || !subject.externalId) throw new GatewayError('INTERNAL', 'an external subject without issuer and subject identifier');
      return `oidc:${JSON.stringify([subject.issuer, subject.externalId])}`;
    case 'anonymous':
      return 'anonymous:';
    default:
      return `local:${subject.name}`;
  }
}

/** The environment of a request. */
export interface Environment {
  /** When the request arrived. */
  time: Date;
  /** Client address as the gateway sees it (IPv4 or IPv6, no port). */
  clientAddress: string;
  /** Purpose of use the client declared (header `X-Purpose-Of-Use` or token claim); TREAT when none. */
  purpose: Purpose;
  /** An active break-glass grant of the subject, when the request declares purpose ETREAT (only such requests use it). */
  breakGlass?: { id: string; reason: string; expiresAt: Date };
}

/**
 * A study as the policy sees it: the attributes of its instances (one combination of them, from the
 * catalog's `study_policy_attributes`: a study with instances that differ is described by several)
 * and the modalities of its series. Names are the policy file's; {@link STUDY_RESOURCE_COLUMNS}
 * maps them to columns.
 */
export interface StudyResource {
  study: string;
  institution: string | null;
  department: string | null;
  /** Modalities of the study's series (ModalitiesInStudy). */
  modality: string[];
  referringPhysician: string | null;
  /** StudyDate, YYYYMMDD. */
  studyDate: string | null;
  /** ConfidentialityCode (0040,1008). */
  confidentiality: string | null;
  patientId: string | null;
  accessionNumber: string | null;
}

/** The resource attributes a policy may test, with the `study_policy_attributes` column of each (modality: `series.modality`). */
export const STUDY_RESOURCE_COLUMNS = {
  study: 'study_uid',
  institution: 'institution_name',
  department: 'department_name',
  modality: 'modality',
  referringPhysician: 'referring_physician_name',
  studyDate: 'study_date',
  confidentiality: 'confidentiality_code',
  patientId: 'patient_id',
  accessionNumber: 'accession_number',
} as const satisfies Record<keyof StudyResource, string>;
