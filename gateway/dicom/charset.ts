/**
 * Decoding of character strings by Specific Character Set (0008,0005): DICOM PS3.5 §6.1 (the
 * character repertoires and ISO/IEC 2022 code extension techniques) and PS3.3 C.12.1.1.2 (the
 * defined terms and their escape sequences, Tables C.12-2 to C.12-5). Node's TextDecoder (full
 * ICU) does the per-repertoire work; this module maps defined terms to decoders and follows the
 * ISO 2022 escape sequences that switch the G0 and G1 code elements inside a value.
 * Never throws: unknown terms fall back to ISO 8859-1 (every byte is a character).
 */
import { TextDecoder } from 'node:util';

/** Turns the bytes of one string value (SH, LO, ST, LT, UT, PN, UC) into text. */
export interface CharsetDecoder {
  decode(bytes: Uint8Array): string;
}

/** How the bytes of a G0 (0x21-0x7E) or G1 (0xA1-0xFE) code element are decoded. */
type CodeElement =
  | { kind: 'single'; label: string } // one byte per character, decoded with `label`
  | { kind: 'jisx0208' } // two bytes per character in G0, ISO-IR 87
  | { kind: 'jisx0212' } // two bytes per character in G0, ISO-IR 159
  | { kind: 'multi'; label: string }; // two bytes per character in G1 (EUC-style)

const LATIN1 = 'latin1';
const ASCII: CodeElement = { kind: 'single', label: LATIN1 };

/** Defined terms without code extensions (PS3.3 Tables C.12-2 and C.12-5) -> TextDecoder label. */
const SINGLE_TERMS: Record<string, string> = {
  '': LATIN1,
  ISO_IR_6: LATIN1,
  'ISO_IR 6': LATIN1,
  'ISO_IR 100': LATIN1,
  'ISO_IR 101': 'iso-8859-2',
  'ISO_IR 109': 'iso-8859-3',
  'ISO_IR 110': 'iso-8859-4',
  'ISO_IR 144': 'iso-8859-5',
  'ISO_IR 127': 'iso-8859-6',
  'ISO_IR 126': 'iso-8859-7',
  'ISO_IR 138': 'iso-8859-8',
  'ISO_IR 148': 'iso-8859-9',
  'ISO_IR 203': 'iso-8859-15',
  'ISO_IR 166': 'windows-874',
  'ISO_IR 13': 'shift_jis',
  'ISO_IR 192': 'utf-8',
  GB18030: 'gb18030',
  GBK: 'gbk',
};

/** Defined terms with code extensions (PS3.3 Tables C.12-3 and C.12-4): the elements they designate initially. */
const ISO2022_TERMS: Record<string, { g0?: CodeElement; g1?: CodeElement }> = {
  'ISO 2022 IR 6': { g0: ASCII },
  'ISO 2022 IR 100': { g0: ASCII, g1: { kind: 'single', label: LATIN1 } },
  'ISO 2022 IR 101': { g0: ASCII, g1: { kind: 'single', label: 'iso-8859-2' } },
  'ISO 2022 IR 109': { g0: ASCII, g1: { kind: 'single', label: 'iso-8859-3' } },
  'ISO 2022 IR 110': { g0: ASCII, g1: { kind: 'single', label: 'iso-8859-4' } },
  'ISO 2022 IR 144': { g0: ASCII, g1: { kind: 'single', label: 'iso-8859-5' } },
  'ISO 2022 IR 127': { g0: ASCII, g1: { kind: 'single', label: 'iso-8859-6' } },
  'ISO 2022 IR 126': { g0: ASCII, g1: { kind: 'single', label: 'iso-8859-7' } },
  'ISO 2022 IR 138': { g0: ASCII, g1: { kind: 'single', label: 'iso-8859-8' } },
  'ISO 2022 IR 148': { g0: ASCII, g1: { kind: 'single', label: 'iso-8859-9' } },
  'ISO 2022 IR 203': { g0: ASCII, g1: { kind: 'single', label: 'iso-8859-15' } },
  'ISO 2022 IR 166': { g0: ASCII, g1: { kind: 'single', label: 'windows-874' } },
  'ISO 2022 IR 13': { g0: ASCII, g1: { kind: 'single', label: 'shift_jis' } },
  'ISO 2022 IR 87': { g0: { kind: 'jisx0208' } },
  'ISO 2022 IR 159': { g0: { kind: 'jisx0212' } },
  'ISO 2022 IR 149': { g1: { kind: 'multi', label: 'euc-kr' } },
  'ISO 2022 IR 58': { g1: { kind: 'multi', label: 'gbk' } },
};

/** Escape sequences (the bytes after ESC) and the code element each one designates. */
const ESCAPES: Array<{ seq: number[]; g0?: CodeElement; g1?: CodeElement }> = [
  { seq: [0x28, 0x42], g0: ASCII }, // ESC ( B  ISO-IR 6
  { seq: [0x28, 0x4a], g0: ASCII }, // ESC ( J  JIS X 0201 Romaji, ISO-IR 14
  { seq: [0x29, 0x49], g1: { kind: 'single', label: 'shift_jis' } }, // ESC ) I  JIS X 0201 Katakana, ISO-IR 13
  { seq: [0x24, 0x42], g0: { kind: 'jisx0208' } }, // ESC $ B  ISO-IR 87
  { seq: [0x24, 0x40], g0: { kind: 'jisx0208' } }, // ESC $ @  (JIS C 6226-1978, decoded as JIS X 0208)
  { seq: [0x24, 0x28, 0x44], g0: { kind: 'jisx0212' } }, // ESC $ ( D  ISO-IR 159
  { seq: [0x24, 0x29, 0x43], g1: { kind: 'multi', label: 'euc-kr' } }, // ESC $ ) C  ISO-IR 149
  { seq: [0x24, 0x29, 0x41], g1: { kind: 'multi', label: 'gbk' } }, // ESC $ ) A  ISO-IR 58
  { seq: [0x2d, 0x41], g1: { kind: 'single', label: LATIN1 } }, // ESC - A  ISO-IR 100
  { seq: [0x2d, 0x42], g1: { kind: 'single', label: 'iso-8859-2' } }, // ESC - B  ISO-IR 101
  { seq: [0x2d, 0x43], g1: { kind: 'single', label: 'iso-8859-3' } }, // ESC - C  ISO-IR 109
  { seq: [0x2d, 0x44], g1: { kind: 'single', label: 'iso-8859-4' } }, // ESC - D  ISO-IR 110
  { seq: [0x2d, 0x4c], g1: { kind: 'single', label: 'iso-8859-5' } }, // ESC - L  ISO-IR 144
  { seq: [0x2d, 0x47], g1: { kind: 'single', label: 'iso-8859-6' } }, // ESC - G  ISO-IR 127
  { seq: [0x2d, 0x46], g1: { kind: 'single', label: 'iso-8859-7' } }, // ESC - F  ISO-IR 126
  { seq: [0x2d, 0x48], g1: { kind: 'single', label: 'iso-8859-8' } }, // ESC - H  ISO-IR 138
  { seq: [0x2d, 0x4d], g1: { kind: 'single', label: 'iso-8859-9' } }, // ESC - M  ISO-IR 148
  { seq: [0x2d, 0x62], g1: { kind: 'single', label: 'iso-8859-15' } }, // ESC - b  ISO-IR 203
  { seq: [0x2d, 0x54], g1: { kind: 'single', label: 'windows-874' } }, // ESC - T  ISO-IR 166
];

const ESC = 0x1b;
const decoders = new Map<string, TextDecoder | null>();

/** Decodes bytes with a TextDecoder label (cached); ISO 8859-1 and unknown labels byte for byte. */
function decodeWith(label: string, bytes: Uint8Array): string {
  if (label === LATIN1) return latin1(bytes);
  let decoder = decoders.get(label);
  if (decoder === undefined) {
    try {
      decoder = new TextDecoder(label);
    } catch {
      decoder = null; // not supported by this runtime: fall back to ISO 8859-1
    }
    decoders.set(label, decoder);
  }
  return decoder === null ? latin1(bytes) : decoder.decode(bytes);
}

/**
 * Buffer views of the arrays decoded lately, so that decoding one value after another of the same
 * array does not make a view each time. Weak: a view must never keep an instance (which may be
 * hundreds of megabytes) alive after its request is done.
 */
const bufferViews = new WeakMap<Uint8Array, Buffer>();

/**
 * ISO 8859-1 (every byte is the code point of the same value, not windows-1252) of
 * `bytes[start, end)`. Short strings are built directly; longer ones through a Buffer view of the
 * array, made once per array.
 */
export function latin1(bytes: Uint8Array, start = 0, end = bytes.length): string {
  const length = end - start;
  if (length <= 24) {
    let text = '';
    for (let i = start; i < end; i++) text += String.fromCharCode(bytes[i]);
    return text;
  }
  let view = bufferViews.get(bytes);
  if (view === undefined) {
    view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    bufferViews.set(bytes, view);
  }
  return view.toString('latin1', start, end);
}

/** Decodes the bytes of a two-byte G0 set (0x21-0x7E pairs) through EUC-JP. */
function decodeJis(bytes: Uint8Array, jisx0212: boolean): string {
  const euc = new Uint8Array(jisx0212 ? (bytes.length / 2) * 3 + 2 : bytes.length);
  let n = 0;
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    if (jisx0212) euc[n++] = 0x8f;
    euc[n++] = bytes[i] | 0x80;
    euc[n++] = bytes[i + 1] | 0x80;
  }
  return decodeWith('euc-jp', euc.subarray(0, n));
}

function decodeRun(element: CodeElement | undefined, bytes: Uint8Array): string {
  if (bytes.length === 0) return '';
  if (element === undefined) return latin1(bytes);
  switch (element.kind) {
    case 'single':
    case 'multi':
      return decodeWith(element.label, bytes);
    case 'jisx0208':
      return decodeJis(bytes, false);
    case 'jisx0212':
      return decodeJis(bytes, true);
  }
}

function matchEscape(bytes: Uint8Array, at: number): (typeof ESCAPES)[number] | undefined {
  for (const escape of ESCAPES) {
    let ok = at + escape.seq.length < bytes.length + 1;
    for (let k = 0; ok && k < escape.seq.length; k++) ok = bytes[at + 1 + k] === escape.seq[k];
    if (ok) return escape;
  }
  return undefined;
}

/**
 * ISO 2022 decoding (PS3.5 §6.1.2.5): bytes 0x00-0x7F go through the G0 element, 0x80-0xFF
 * through the G1 element; ESC sequences switch either. Control characters and delimiters are
 * always ASCII (PS3.5 §6.1.2.5.3 requires the default repertoire before them).
 */
function decodeIso2022(bytes: Uint8Array, initialG0: CodeElement, initialG1: CodeElement | undefined): string {
  let g0 = initialG0;
  let g1 = initialG1;
  let out = '';
  let start = 0;
  let runHigh = false;
  const flush = (end: number): void => {
    if (end > start) out += decodeRun(runHigh ? g1 : g0, bytes.subarray(start, end));
    start = end;
  };
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === ESC) {
      flush(i);
      const escape = matchEscape(bytes, i);
      if (escape === undefined) {
        start = i + 1; // an unknown escape: drop the ESC byte, keep what follows
        continue;
      }
      if (escape.g0) g0 = escape.g0;
      if (escape.g1) g1 = escape.g1;
      i += escape.seq.length;
      start = i + 1;
      continue;
    }
    const high = b >= 0x80;
    const control = !high && g0.kind !== 'single' && b < 0x21;
    if (control) {
      flush(i);
      out += String.fromCharCode(b);
      start = i + 1;
      continue;
    }
    if (high !== runHigh) {
      flush(i);
      runHigh = high;
    }
  }
  flush(bytes.length);
  return out;
}

const latin1Decoder: CharsetDecoder = { decode: (bytes) => latin1(bytes) };
const cache = new Map<string, CharsetDecoder>();

/**
 * The decoder for a Specific Character Set (the values of (0008,0005), already split on '\').
 * An empty list, or an empty first value, means the default repertoire (ISO-IR 6).
 */
export function charsetDecoder(terms: readonly string[]): CharsetDecoder {
  const key = terms.join('\\');
  let decoder = cache.get(key);
  if (decoder === undefined) {
    decoder = buildDecoder(
      terms.map((t) =>
        t
          .trim()
          .toUpperCase()
          .replace(/^ISO_IR_?(\d)/, 'ISO_IR $1'),
      ),
    );
    cache.set(key, decoder);
  }
  return decoder;
}

function buildDecoder(terms: string[]): CharsetDecoder {
  const first = terms[0] ?? '';
  const iso2022 = terms.some((t) => t.startsWith('ISO 2022'));
  if (!iso2022) {
    const label = SINGLE_TERMS[first] ?? LATIN1;
    if (label === LATIN1) {
      return latin1Decoder;
    }
    if (label === 'utf-8' || label === 'gb18030' || label === 'gbk') return { decode: (bytes) => decodeWith(label, bytes) };
    // A single-byte set without extensions; a value that carries escapes anyway is decoded ISO 2022 style.
    const g1: CodeElement = { kind: 'single', label };
    return { decode: (bytes) => (bytes.includes(ESC) ? decodeIso2022(bytes, ASCII, g1) : decodeWith(label, bytes)) };
  }
  const initial = ISO2022_TERMS[first] ?? (first === '' ? { g0: ASCII } : undefined);
  const g0 = initial?.g0 ?? ASCII;
  const g1 = initial?.g1;
  return { decode: (bytes) => decodeIso2022(bytes, g0, g1) };
}

/** The decoder of the default repertoire (ISO-IR 6, decoded as ISO 8859-1 so no byte is lost). */
export const defaultDecoder: CharsetDecoder = latin1Decoder;
