/**
 * De-identification of a data set in the DICOM JSON Model (PS3.18 F.2), as served by WADO-RS
 * metadata and QIDO-RS: the decisions of `deid-plan.ts` (DICOM PS3.15 Annex E) applied to the
 * attributes at every depth of their sequences, exactly as `deidentifyInstance` applies them to
 * the bytes, so that the JSON of a de-identified instance equals the de-identified JSON of the
 * instance. Removed attributes take their BulkDataURI or InlineBinary with them. Group Length
 * attributes (gggg,0000) are left out: they count bytes of an encoding that JSON does not have.
 */
import type { DicomJson, DicomJsonAttribute } from '../dicom/types.js';
import { DeidentificationPlan, DUMMY_BINARY_LENGTH, dummyText, methodDescription, newReport, noteBurnedInAnnotation, noteOpaque, patientOf, shiftDate, type DeidentificationReport, type DeidentifyOptions } from './deid-plan.js';

/** A de-identified data set in the DICOM JSON Model, and what was done to it. */
export interface DeidentifiedJson {
  json: DicomJson;
  report: DeidentificationReport;
}

/**
 * De-identifies a DICOM JSON data set (a metadata object or one QIDO-RS result) without changing
 * the input. Throws INTERNAL for unusable options, like `deidentifyInstance`.
 */
export function deidentifyJson(json: DicomJson, options: DeidentifyOptions = {}): DeidentifiedJson {
  const plan = new DeidentificationPlan(options);
  const report = newReport(plan);
  if (plan.profile === 'basic') noteBurnedInAnnotation(report, json['00280301']?.Value?.[0]);
  const walker = new JsonWalker(plan, report, patientOf(json));
  const out = walker.dataSet(json, 0);
  if (plan.profile === 'basic') {
    out['00120062'] = { vr: 'CS', Value: ['YES'] };
    out['00120063'] = { vr: 'LO', Value: methodDescription(plan.methods) };
    out['00120064'] = {
      vr: 'SQ',
      Value: plan.methods.map((m) => ({
        '00080100': { vr: 'SH', Value: [m.code] },
        '00080102': { vr: 'SH', Value: ['DCM'] },
        '00080104': { vr: 'LO', Value: [m.meaning] },
      })),
    };
  }
  return { json: sortedByTag(out), report };
}

class JsonWalker {
  private days: number | undefined;

  constructor(
    private readonly plan: DeidentificationPlan,
    private readonly report: DeidentificationReport,
    private readonly patient: string,
  ) {}

  dataSet(json: DicomJson, depth: number): DicomJson {
    const out: DicomJson = {};
    for (const [tag, attribute] of Object.entries(json)) {
      const edited = this.attribute(tag, attribute, depth);
      if (edited !== undefined) out[tag] = edited;
    }
    return sortedByTag(out);
  }

  private attribute(tag: string, attribute: DicomJsonAttribute, depth: number): DicomJsonAttribute | undefined {
    const { vr } = attribute;
    const decision = this.plan.decide(tag, vr, depth);
    if (decision.count !== undefined) this.report.counts[decision.count]++;
    noteOpaque(this.report, tag, vr, decision);
    if (tag.endsWith('0000')) return undefined; // Group Length: counted like the bytes, then left out
    switch (decision.op) {
      case 'keep':
        if (vr === 'SQ' && attribute.Value !== undefined) {
          return { vr, Value: attribute.Value.map((item) => this.dataSet(item as DicomJson, depth + 1)) };
        }
        return attribute;
      case 'remove':
        return undefined;
      case 'empty':
        return { vr };
      case 'dummy':
        if (vr === 'UI') return this.mapValues(attribute, (uid) => this.plan.replaceUid(uid));
        return dummyAttribute(tag, vr);
      case 'uid':
        return this.mapValues(attribute, (uid) => this.plan.replaceUid(uid));
      case 'shift': {
        const days = (this.days ??= this.plan.shiftDays(this.patient));
        return this.mapValues(attribute, (date) => shiftDate(date, days));
      }
    }
  }

  /** The attribute with `map` applied to each string value; values mapped to '' become empty (null). */
  private mapValues(attribute: DicomJsonAttribute, map: (value: string) => string): DicomJsonAttribute {
    const values = (attribute.Value ?? []).map((v) => {
      if (typeof v !== 'string' || v === '') return null;
      const mapped = map(v);
      return mapped === '' ? null : mapped;
    });
    return values.every((v) => v === null) ? { vr: attribute.vr } : { vr: attribute.vr, Value: values };
  }
}

/** The dummy value of an attribute in the JSON model (the same value `deid-encode.ts` writes in bytes). */
function dummyAttribute(tag: string, vr: string): DicomJsonAttribute {
  if (vr === 'SQ') return { vr, Value: [{}] };
  const text = dummyText(tag, vr);
  if (text !== undefined) {
    if (vr === 'PN') return { vr, Value: [{ Alphabetic: text }] };
    if (vr === 'IS' || vr === 'DS') return { vr, Value: [Number(text)] };
    return { vr, Value: [text] };
  }
  if (vr === 'AT') return { vr, Value: ['00000000'] };
  const length = DUMMY_BINARY_LENGTH[vr] ?? 2;
  if (['OB', 'OW', 'UN', 'OF', 'OL', 'OD', 'OV'].includes(vr)) return { vr, InlineBinary: Buffer.alloc(length).toString('base64') };
  return { vr, Value: [0] };
}

function sortedByTag(json: DicomJson): DicomJson {
  const out: DicomJson = {};
  for (const tag of Object.keys(json).sort()) out[tag] = json[tag];
  return out;
}
