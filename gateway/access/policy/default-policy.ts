/**
 * The default policy (`config/policy.yaml`, word for word; a unit test keeps the two equal),
 * embedded so that a gateway built without the config folder (the Docker image) still has it.
 */

/** The text of `config/policy.yaml`. */
export const DEFAULT_POLICY_TEXT = `# The default access policy of Aegis: in force when the configuration names no policy file.
# config/policy.md explains the format; config/policy.example.yaml shows every feature.
# The role admin is built in: it may do everything, whatever the rules below say.
version: 1

# A study the subject may not access answers 404, as if it did not exist.
denied: not-found

# Who may declare an emergency (break-glass, with a reason and purpose of use ETREAT), and for
# how long at most.
breakGlass:
  subjects: { role: [physician, radiologist] }
  maxMinutes: 60

rules:
  - id: clinicians-own-institution
    description: Radiologists and physicians search, read and export the studies of their own institution, for treatment.
    subjects: { role: [radiologist, physician] }
    actions: [search, read, export]
    resources: { institution: "\${subject.institution}" }
    environment: { purpose: [TREAT, ETREAT] }

  - id: modalities-store
    description: Modalities and routers store into the studies of their own institution (a new study names it too).
    subjects: { role: modality }
    actions: create
    resources: { institution: "\${subject.institution}" }

  - id: research-deidentified
    description: Researchers search, read and export studies de-identified, for health research only.
    subjects: { role: research }
    actions: [search, read, export]
    environment: { purpose: HRESCH }
    view: deidentified

  - id: research-no-confidential
    description: Researchers never see restricted (R) or very restricted (V) studies.
    effect: deny
    subjects: { role: research }
    actions: [search, read, export]
    resources: { confidentiality: [R, V] }

  - id: emergency-any-study
    description: While break-glass is in force, physicians and radiologists search and read any study.
    subjects: { role: [physician, radiologist] }
    actions: [search, read]
    environment: { purpose: ETREAT, breakGlass: true }
`;
