/**
 * A small writer of synthetic Part 10 instances for the parser's unit tests (PS3.10 §7 preamble and
 * meta header, PS3.5 §7 data elements in explicit or implicit VR, little or big endian, sequences
 * and encapsulated pixel data). Test-only: the gateway itself never serializes.
 */

/** A value: text (padded per VR), numbers (binary VRs), raw bytes, items (SQ) or fragments. */
export type Value = string | number[] | bigint[] | Uint8Array | { items: Spec[][]; undefinedLength?: boolean } | { fragments: Uint8Array[]; basicOffsetTable?: number[] };

/** One element: tag as 8 hex digits, VR, value. */
export type Spec = [tag: string, vr: string, value: Value];

/** How to encode the data set. */
export interface BuildOptions {
  transferSyntax?: string;
  /** Defaults from the transfer syntax. */
  explicitVR?: boolean;
  littleEndian?: boolean;
}

const LONG = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const SIZE: Record<string, number> = { US: 2, SS: 2, UL: 4, SL: 4, FL: 4, FD: 8, UV: 8, SV: 8, AT: 4, OW: 2, OF: 4, OD: 8, OL: 4, OV: 8 };

class Writer {
  private chunks: Uint8Array[] = [];
  length = 0;
  constructor(private readonly littleEndian: boolean) {}
  bytes(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  u16(v: number): void {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, this.littleEndian);
    this.bytes(b);
  }
  u32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, this.littleEndian);
    this.bytes(b);
  }
  result(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** Encodes the value of one element (not SQ, not fragments). */
function encodeValue(vr: string, value: Value, littleEndian: boolean): Uint8Array {
  if (value instanceof Uint8Array) return pad(value, 0);
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'latin1');
    return pad(new Uint8Array(bytes), vr === 'UI' ? 0 : 0x20);
  }
  if (Array.isArray(value)) {
    const size = SIZE[vr];
    if (size === undefined) throw new Error(`numbers given for ${vr}`);
    const out = new Uint8Array(size * value.length);
    const view = new DataView(out.buffer);
    value.forEach((v: number | bigint, i: number) => {
      const at = i * size;
      if (vr === 'AT') {
        view.setUint16(at, Number(v) >>> 16, littleEndian);
        view.setUint16(at + 2, Number(v) & 0xffff, littleEndian);
      } else if (vr === 'US' || vr === 'OW') view.setUint16(at, Number(v), littleEndian);
      else if (vr === 'SS') view.setInt16(at, Number(v), littleEndian);
      else if (vr === 'UL' || vr === 'OL') view.setUint32(at, Number(v), littleEndian);
      else if (vr === 'SL') view.setInt32(at, Number(v), littleEndian);
      else if (vr === 'FL' || vr === 'OF') view.setFloat32(at, Number(v), littleEndian);
      else if (vr === 'FD' || vr === 'OD') view.setFloat64(at, Number(v), littleEndian);
      else if (vr === 'UV' || vr === 'OV') view.setBigUint64(at, BigInt(v), littleEndian);
      else if (vr === 'SV') view.setBigInt64(at, BigInt(v), littleEndian);
    });
    return out;
  }
  throw new Error('unsupported value');
}

function pad(bytes: Uint8Array, filler: number): Uint8Array {
  if (bytes.length % 2 === 0) return bytes;
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  out[bytes.length] = filler;
  return out;
}

function writeTag(w: Writer, tag: string): void {
  w.u16(parseInt(tag.slice(0, 4), 16));
  w.u16(parseInt(tag.slice(4, 8), 16));
}

function writeHeader(w: Writer, tag: string, vr: string, length: number, explicitVR: boolean): void {
  writeTag(w, tag);
  if (!explicitVR) {
    w.u32(length);
    return;
  }
  w.bytes(new Uint8Array(Buffer.from(vr, 'latin1')));
  if (LONG.has(vr)) {
    w.u16(0);
    w.u32(length);
  } else {
    w.u16(length);
  }
}

/** Encodes a data set (a list of elements, written in the order given). */
export function encodeDataSet(specs: Spec[], explicitVR: boolean, littleEndian: boolean): Uint8Array {
  const w = new Writer(littleEndian);
  for (const [tag, vr, value] of specs) {
    if (typeof value === 'object' && 'items' in value) {
      const body = new Writer(littleEndian);
      for (const item of value.items) {
        const itemBytes = encodeDataSet(item, explicitVR, littleEndian);
        writeTag(body, 'FFFEE000');
        if (value.undefinedLength) {
          body.u32(0xffffffff);
          body.bytes(itemBytes);
          writeTag(body, 'FFFEE00D');
          body.u32(0);
        } else {
          body.u32(itemBytes.length);
          body.bytes(itemBytes);
        }
      }
      if (value.undefinedLength) {
        writeTag(body, 'FFFEE0DD');
        body.u32(0);
      }
      const bytes = body.result();
      writeHeader(w, tag, vr, value.undefinedLength ? 0xffffffff : bytes.length, explicitVR);
      w.bytes(bytes);
    } else if (typeof value === 'object' && 'fragments' in value) {
      writeHeader(w, tag, vr, 0xffffffff, explicitVR);
      const bot = value.basicOffsetTable ?? [];
      writeTag(w, 'FFFEE000');
      w.u32(bot.length * 4);
      for (const offset of bot) w.u32(offset);
      for (const fragment of value.fragments) {
        const bytes = pad(fragment, 0);
        writeTag(w, 'FFFEE000');
        w.u32(bytes.length);
        w.bytes(bytes);
      }
      writeTag(w, 'FFFEE0DD');
      w.u32(0);
    } else {
      const bytes = encodeValue(vr, value, littleEndian);
      writeHeader(w, tag, vr, bytes.length, explicitVR);
      w.bytes(bytes);
    }
  }
  return w.result();
}

/** A Part 10 instance: preamble, 'DICM', meta header (explicit VR little endian), data set. */
export function buildInstance(specs: Spec[], options: BuildOptions = {}): Uint8Array {
  const ts = options.transferSyntax ?? '1.2.840.10008.1.2.1';
  const explicitVR = options.explicitVR ?? ts !== '1.2.840.10008.1.2';
  const littleEndian = options.littleEndian ?? ts !== '1.2.840.10008.1.2.2';
  const sopClass = specs.find(([tag]) => tag === '00080016')?.[2];
  const sopInstance = specs.find(([tag]) => tag === '00080018')?.[2];
  const metaBody = encodeDataSet(
    [
      ['00020001', 'OB', new Uint8Array([0, 1])],
      ['00020002', 'UI', typeof sopClass === 'string' ? sopClass : '1.2.3'],
      ['00020003', 'UI', typeof sopInstance === 'string' ? sopInstance : '1.2.3.4'],
      ['00020010', 'UI', ts],
      ['00020012', 'UI', '1.2.826.0.1.3680043.9.9999'],
    ],
    true,
    true,
  );
  const groupLength = encodeDataSet([['00020000', 'UL', [metaBody.length]]], true, true);
  const body = encodeDataSet(specs, explicitVR, littleEndian);
  const out = new Uint8Array(132 + groupLength.length + metaBody.length + body.length);
  out.set(Buffer.from('DICM', 'latin1'), 128);
  out.set(groupLength, 132);
  out.set(metaBody, 132 + groupLength.length);
  out.set(body, 132 + groupLength.length + metaBody.length);
  return out;
}

/** The elements every instance needs to be accepted (SOP Class/Instance, Study/Series UIDs). */
export function identity(sopInstance = '1.2.3.4.5'): Spec[] {
  return [
    ['00080016', 'UI', '1.2.840.10008.5.1.4.1.1.7'],
    ['00080018', 'UI', sopInstance],
    ['0020000D', 'UI', '1.2.3.4'],
    ['0020000E', 'UI', '1.2.3.4.1'],
  ];
}

/** Image Pixel module attributes (PS3.3 C.7.6.3) for a native image. */
export function imagePixel(rows: number, columns: number, bitsAllocated: number, samples = 1, frames?: number): Spec[] {
  const specs: Spec[] = [
    ['00280002', 'US', [samples]],
    ['00280004', 'CS', samples === 3 ? 'RGB' : 'MONOCHROME2'],
  ];
  if (frames !== undefined) specs.push(['00280008', 'IS', String(frames)]);
  specs.push(['00280010', 'US', [rows]], ['00280011', 'US', [columns]], ['00280100', 'US', [bitsAllocated]], ['00280101', 'US', [bitsAllocated]], ['00280102', 'US', [bitsAllocated - 1]], ['00280103', 'US', [0]]);
  return specs;
}

/** Bytes 0, 1, 2, ... (mod 256). */
export function ramp(length: number, start = 0): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (start + i) & 0xff;
  return out;
}
