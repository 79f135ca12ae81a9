/**
 * Media types and Accept headers as DICOMweb clients send them (RFC 9110 §8.3, §12.5.1; PS3.18
 * §8.7): parameters quoted or not, several media ranges with q-values, duplicated parameters
 * (OHIF sends `transfer-syntax=*` twice) and values such as `type=application/dicom` that are not
 * RFC tokens. Lenient in what it reads, exact in what it matches.
 */

/** A media type or media range with its parameters (names lower-case; values as given, unquoted). */
export interface MediaRange {
  type: string;
  subtype: string;
  /** All values of each parameter, in order (duplicates kept). */
  params: Map<string, string[]>;
  q: number;
}

/** Parses one media type, e.g. a Content-Type. Returns undefined when it is not `type/subtype`. */
export function parseMediaType(text: string): MediaRange | undefined {
  const segments = splitOutsideQuotes(text, ';');
  const [type, subtype, extra] = (segments.shift() ?? '').trim().toLowerCase().split('/');
  if (!type || !subtype || extra !== undefined || !/^[\w.+*-]+$/.test(type) || !/^[\w.+*-]+$/.test(subtype)) return undefined;
  const params = new Map<string, string[]>();
  let q = 1;
  for (const segment of segments) {
    const eq = segment.indexOf('=');
    if (eq < 0) continue;
    const name = segment.slice(0, eq).trim().toLowerCase();
    let value = segment.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    if (name === 'q') {
      const n = Number(value);
      q = Number.isFinite(n) ? Math.min(Math.max(n, 0), 1) : 1;
      continue;
    }
    params.set(name, [...(params.get(name) ?? []), value]);
  }
  return { type, subtype, params, q };
}

/** Parses an Accept header into media ranges, highest q first (stable). Absent or empty: `*\/*`. */
export function parseAccept(header: string | undefined): MediaRange[] {
  if (header === undefined || header.trim() === '') return [parseMediaType('*/*')!];
  const ranges = splitOutsideQuotes(header, ',')
    .map((part) => parseMediaType(part))
    .filter((r): r is MediaRange => r !== undefined && r.q > 0);
  return ranges
    .map((r, i) => ({ r, i }))
    .sort((a, b) => b.r.q - a.r.q || a.i - b.i)
    .map(({ r }) => r);
}

/** The single value of a parameter, lower-case; `*` when any of several values is `*`. */
export function param(range: MediaRange, name: string): string | undefined {
  const values = range.params.get(name);
  if (!values || values.length === 0) return undefined;
  if (values.includes('*')) return '*';
  return values[0].toLowerCase();
}

/** `type/subtype` of a range. */
export function essence(range: MediaRange): string {
  return `${range.type}/${range.subtype}`;
}

/** True when the range (possibly with wildcards) covers the media type `type/subtype`. */
export function covers(range: MediaRange, mediaType: string): boolean {
  const [type, subtype] = mediaType.split('/');
  return (range.type === '*' || range.type === type) && (range.subtype === '*' || range.subtype === subtype);
}

function splitOutsideQuotes(text: string, separator: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') quoted = !quoted;
    else if (c === '\\' && quoted && i + 1 < text.length) {
      current += c + text[++i];
      continue;
    }
    if (c === separator && !quoted) {
      out.push(current);
      current = '';
    } else current += c;
  }
  out.push(current);
  return out.filter((s) => s.trim() !== '');
}
