/**
 * The DICOM instance a fragment travels in: a PACS stores DICOM, a fragment is opaque bytes. The
 * fragment goes into a private block of group 0009 whose creator is {@link PRIVATE_CREATOR}
 * (PS3.5 §7.8): element xx00 (OB) holds the bytes, element xx01 (UL) their exact length (OB values
 * are padded to an even length). Either the adapter makes a plain container, a Raw Data Storage
 * instance (PS3.3 A.37) with no identity and no pixels, or the caller hands it a presentation (a
 * whole instance it built, e.g. a de-identified image) and the fragment is put into that.
 *
 * dcmjs writes and reads the Part 10 files; nothing here hand-rolls DICOM encoding.
 */
import { createHash } from 'node:crypto';
import dcmjs, { type DcmjsDataSet } from 'dcmjs';

/** The Raw Data Storage SOP Class: stored by any PACS, shown as a data object without pixels. */
export const RAW_DATA_STORAGE = '1.2.840.10008.5.1.4.1.1.66';
/** The private creator of the block that carries the fragment. */
export const PRIVATE_CREATOR = 'AEGIS FRAGMENT';
/** Explicit VR Little Endian, the transfer syntax of the plain container. */
const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
/** Implicit VR Little Endian: a presentation in it is written again in explicit VR. */
const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';
/** Implementation Class UID of the files this adapter writes (a 2.25 UUID-derived UID). */
const IMPLEMENTATION_CLASS_UID = '2.25.313423623260988270361825447908544672594';
const PRIVATE_GROUP = '0009';
const UID_PATTERN = /^(?:0|[1-9]\d*)(?:\.(?:0|[1-9]\d*))+$/;

/** The three UIDs a DICOMweb server files an instance under. */
export interface InstanceUids {
  study: string;
  series: string;
  instance: string;
}

/** A valid DICOM UID (PS3.5 §9.1): digits and dots, no leading zeros, at most 64 characters. */
export function isUid(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 64 && UID_PATTERN.test(value);
}

/** A UID under the 2.25 root (PS3.5 B.2) from the first 128 bits of the SHA-256 of `parts`: the same parts give the same UID. */
export function derivedUid(...parts: string[]): string {
  const digest = createHash('sha256').update(JSON.stringify(parts)).digest();
  return `2.25.${BigInt(`0x${digest.subarray(0, 16).toString('hex')}`).toString()}`;
}

/** A plain container: a Raw Data Storage instance with empty identity, carrying `fragment`. */
export function fragmentContainer(fragment: Uint8Array, uids: InstanceUids, now = new Date()): Uint8Array {
  const date = now.toISOString().slice(0, 10).replaceAll('-', '');
  const time = now.toISOString().slice(11, 19).replaceAll(':', '');
  const text = (vr: string, value?: string) => ({ vr, Value: value === undefined ? [] : [value] });
  const dataSet: DcmjsDataSet = {
    '00080016': text('UI', RAW_DATA_STORAGE),
    '00080018': text('UI', uids.instance),
    '00080020': text('DA'),
    '00080023': text('DA', date),
    '00080030': text('TM'),
    '00080033': text('TM', time),
    '00080050': text('SH'),
    '00080060': text('CS', 'OT'),
    '00080070': text('LO'),
    '00080090': text('PN'),
    '0008103E': text('LO', 'Aegis sealed fragment'),
    '00100010': text('PN'),
    '00100020': text('LO'),
    '00100030': text('DA'),
    '00100040': text('CS'),
    '0020000D': text('UI', uids.study),
    '0020000E': text('UI', uids.series),
    '00200010': text('SH'),
    '00200011': text('IS', '1'),
    '00200013': text('IS', '1'),
  };
  return writePart10(withFragmentBlock(dataSet, fragment), { sopClass: RAW_DATA_STORAGE, sopInstance: uids.instance, transferSyntax: EXPLICIT_VR_LITTLE_ENDIAN });
}

/**
 * `presentation` (a Part 10 instance the caller built) with `fragment` in its private block, and
 * the UIDs it is filed under. Throws a TypeError when it is no readable instance or lacks valid UIDs.
 */
export function presentationWithFragment(presentation: Uint8Array, fragment: Uint8Array): { bytes: Uint8Array; uids: InstanceUids } {
  const file = readPart10(presentation);
  const uids = uidsOf(file.dict);
  if (uids === undefined) throw new TypeError('the presentation instance lacks valid Study, Series or SOP Instance UIDs');
  const sopClass = String(file.dict['00080016']?.Value?.[0] ?? '');
  const transferSyntax = String(file.meta['00020010']?.Value?.[0] ?? '');
  // Implicit VR would leave the private elements' VRs to a dictionary nobody has: written explicit.
  if (transferSyntax !== EXPLICIT_VR_LITTLE_ENDIAN && transferSyntax !== IMPLICIT_VR_LITTLE_ENDIAN) throw new TypeError(`a presentation in transfer syntax ${transferSyntax} is not supported (native little endian only)`);
  const pixelData = file.dict['7FE00010'];
  // dcmjs reads implicit VR Pixel Data as 'ox' (OB or OW): its VR follows from Bits Allocated.
  if (pixelData?.vr === 'ox') file.dict['7FE00010'] = { ...pixelData, vr: Number(file.dict['00280100']?.Value?.[0]) > 8 ? 'OW' : 'OB' };
  const bytes = writePart10(withFragmentBlock(file.dict, fragment), { sopClass, sopInstance: uids.instance, transferSyntax: EXPLICIT_VR_LITTLE_ENDIAN });
  const carried = fragmentOf(bytes, uids);
  if (carried === undefined || !carried.equals(fragment)) throw new TypeError('the presentation instance does not carry the fragment back intact');
  return { bytes, uids };
}

/**
 * The fragment an instance carries, checked against the UIDs it was asked for; undefined when the
 * bytes are no readable instance, are filed under other UIDs, or carry no intact fragment block.
 */
export function fragmentOf(bytes: Uint8Array, expected: InstanceUids): Buffer | undefined {
  let dataSet: DcmjsDataSet;
  try {
    dataSet = readPart10(bytes).dict;
  } catch {
    return undefined;
  }
  const uids = uidsOf(dataSet);
  if (uids === undefined || uids.study !== expected.study || uids.series !== expected.series || uids.instance !== expected.instance) return undefined;
  const slot = creatorSlot(dataSet, 'find');
  if (slot === undefined) return undefined;
  const value = dataSet[`${PRIVATE_GROUP}${slot}00`]?.Value?.[0];
  const length = dataSet[`${PRIVATE_GROUP}${slot}01`]?.Value?.[0];
  const stored = value === undefined ? Buffer.alloc(0) : value instanceof ArrayBuffer ? Buffer.from(value) : undefined;
  if (stored === undefined || typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) return undefined;
  // OB values are padded to an even length: one byte of padding at most.
  if (stored.length !== length && stored.length !== length + 1) return undefined;
  return stored.subarray(0, length);
}

/** The Study, Series and SOP Instance UIDs of a data set, when all three are valid. */
function uidsOf(dataSet: DcmjsDataSet): InstanceUids | undefined {
  const [study, series, instance] = ['0020000D', '0020000E', '00080018'].map((tag) => dataSet[tag]?.Value?.[0]);
  return isUid(study) && isUid(series) && isUid(instance) ? { study, series, instance } : undefined;
}

/** `dataSet` with its fragment block (re)placed: the creator's own slot, else the first free one. */
function withFragmentBlock(dataSet: DcmjsDataSet, fragment: Uint8Array): DcmjsDataSet {
  const slot = creatorSlot(dataSet, 'find') ?? creatorSlot(dataSet, 'free');
  if (slot === undefined) throw new TypeError(`the instance has no free private block in group ${PRIVATE_GROUP}`);
  const copy = Uint8Array.from(fragment);
  const out: DcmjsDataSet = { ...dataSet };
  for (const tag of Object.keys(out)) if (tag.startsWith(`${PRIVATE_GROUP}${slot}`)) delete out[tag];
  out[`${PRIVATE_GROUP}00${slot}`] = { vr: 'LO', Value: [PRIVATE_CREATOR] };
  out[`${PRIVATE_GROUP}${slot}00`] = { vr: 'OB', Value: [copy.buffer] };
  out[`${PRIVATE_GROUP}${slot}01`] = { vr: 'UL', Value: [fragment.byteLength] };
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The block (two hex digits, 10-FF) whose creator is ours (`find`), or the first without a creator (`free`). */
function creatorSlot(dataSet: DcmjsDataSet, mode: 'find' | 'free'): string | undefined {
  for (let n = 0x10; n <= 0xff; n++) {
    const slot = n.toString(16).toUpperCase().padStart(2, '0');
    const creator = dataSet[`${PRIVATE_GROUP}00${slot}`]?.Value?.[0];
    if (mode === 'find' ? typeof creator === 'string' && creator.trim() === PRIVATE_CREATOR : creator === undefined) return slot;
  }
  return undefined;
}

function writePart10(dataSet: DcmjsDataSet, file: { sopClass: string; sopInstance: string; transferSyntax: string }): Uint8Array {
  const dict = new dcmjs.data.DicomDict({
    '00020001': { vr: 'OB', Value: [new Uint8Array([0, 1]).buffer] },
    '00020002': { vr: 'UI', Value: [file.sopClass] },
    '00020003': { vr: 'UI', Value: [file.sopInstance] },
    '00020010': { vr: 'UI', Value: [file.transferSyntax] },
    '00020012': { vr: 'UI', Value: [IMPLEMENTATION_CLASS_UID] },
    '00020013': { vr: 'SH', Value: ['AEGIS_FRAGMENT'] },
  });
  dict.dict = dataSet;
  return new Uint8Array(dict.write());
}

function readPart10(bytes: Uint8Array): { meta: DcmjsDataSet; dict: DcmjsDataSet } {
  const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return dcmjs.data.DicomMessage.readFile(copy);
}
