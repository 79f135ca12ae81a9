/**
 * The instances the suite stores: small, valid Part 10 files (PS3.10 §7) written by dcmjs, in
 * Explicit VR Little Endian, with fresh UIDs under the 2.25 root (PS3.5 §B.2) so that they can
 * collide with nothing on the server, and a Study Description that says who made them. Single
 * frame ones are Secondary Capture; the multi-frame one is Multi-frame Grayscale Byte SC, whose
 * frames differ so that a frame returned in the wrong order is noticed.
 */
import { randomBytes } from 'node:crypto';
import dcmjs, { type DcmjsDataSet } from 'dcmjs';

/** Secondary Capture Image Storage. */
const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';
/** Multi-frame Grayscale Byte Secondary Capture Image Storage. */
const MULTIFRAME_BYTE_SC = '1.2.840.10008.5.1.4.1.1.7.2';
/** Explicit VR Little Endian. */
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
/** Implementation Class UID of the files the suite writes. */
const IMPLEMENTATION_CLASS_UID = '2.25.99417632174061829462381137262549610473';

/** The text every study the suite creates carries in its Study Description. */
export const STUDY_MARK = 'AEGIS CONFORMANCE SUITE';

/** A fresh UID under 2.25: 128 random bits in decimal. */
export function newUid(): string {
  return `2.25.${BigInt(`0x${randomBytes(16).toString('hex')}`).toString()}`;
}

/** What varies between the suite's instances. */
export interface InstanceSpec {
  study: string;
  series: string;
  sop: string;
  patientName: string;
  patientId: string;
  /** YYYYMMDD. */
  studyDate: string;
  accessionNumber: string;
  seriesNumber: number;
  instanceNumber: number;
  seriesDescription: string;
  /** Frames of 8 x 8 8-bit pixels; 1 makes a single-frame Secondary Capture. */
  frames: number;
}

/** A throwaway single-frame instance of the run `run` (the checks that store one and drop it). */
export function throwawaySpec(run: string, uids: Pick<InstanceSpec, 'study' | 'series' | 'sop'>): InstanceSpec {
  return {
    study: uids.study,
    series: uids.series,
    sop: uids.sop,
    patientName: 'CONFORMANCE^THROWAWAY',
    patientId: `CONF-${run}`,
    studyDate: '20100101',
    accessionNumber: `C${run}T`,
    seriesNumber: 1,
    instanceNumber: 1,
    seriesDescription: 'Conformance throwaway',
    frames: 1,
  };
}

/** The pixel value of `frame` (0-based) at byte `i`: distinct per frame. */
export function pixelValue(frame: number, i: number): number {
  return (frame * 37 + i * 3) & 0xff;
}

/** Rows and columns of every instance. */
export const SIZE = 8;

/** A Part 10 file of `spec`. */
export function buildInstance(spec: InstanceSpec): Uint8Array {
  const multiframe = spec.frames > 1;
  const sopClass = multiframe ? MULTIFRAME_BYTE_SC : SECONDARY_CAPTURE;
  const pixels = new Uint8Array(SIZE * SIZE * spec.frames);
  for (let f = 0; f < spec.frames; f++) for (let i = 0; i < SIZE * SIZE; i++) pixels[f * SIZE * SIZE + i] = pixelValue(f, i);
  const v = (vr: string, ...values: unknown[]) => ({ vr, Value: values });
  const dataSet: DcmjsDataSet = {
    '00080016': v('UI', sopClass),
    '00080018': v('UI', spec.sop),
    '00080020': v('DA', spec.studyDate),
    '00080030': v('TM', '101500'),
    '00080050': v('SH', spec.accessionNumber),
    '00080060': v('CS', 'OT'),
    '00080064': v('CS', 'WSD'),
    '00080080': v('LO', 'Conformance Institute'),
    '00080090': v('PN'),
    '00081030': v('LO', `${STUDY_MARK} (created by a test run; safe to delete)`),
    '0008103E': v('LO', spec.seriesDescription),
    '00100010': v('PN', spec.patientName),
    '00100020': v('LO', spec.patientId),
    '00100030': v('DA', '19700101'),
    '00100040': v('CS', 'O'),
    '0020000D': v('UI', spec.study),
    '0020000E': v('UI', spec.series),
    '00200010': v('SH', 'CONF'),
    '00200011': v('IS', String(spec.seriesNumber)),
    '00200013': v('IS', String(spec.instanceNumber)),
    '00280002': v('US', 1),
    '00280004': v('CS', 'MONOCHROME2'),
    ...(multiframe ? { '00280008': v('IS', String(spec.frames)), '00280009': v('AT', 0x00181063) } : {}),
    '00280010': v('US', SIZE),
    '00280011': v('US', SIZE),
    '00280100': v('US', 8),
    '00280101': v('US', 8),
    '00280102': v('US', 7),
    '00280103': v('US', 0),
    ...(multiframe ? { '00181063': v('DS', '40') } : {}),
    '7FE00010': v('OB', pixels.buffer),
  };
  const dict = new dcmjs.data.DicomDict({
    '00020001': v('OB', new Uint8Array([0, 1]).buffer),
    '00020002': v('UI', sopClass),
    '00020003': v('UI', spec.sop),
    '00020010': v('UI', EXPLICIT_VR_LITTLE_ENDIAN),
    '00020012': v('UI', IMPLEMENTATION_CLASS_UID),
    '00020013': v('SH', 'AEGIS_CONFORM'),
  });
  dict.dict = dataSet;
  return new Uint8Array(dict.write());
}
