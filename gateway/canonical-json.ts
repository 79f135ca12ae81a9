/**
 * Canonical JSON (the audit chain, signed manifests): object keys sorted by code unit, no whitespace, `undefined`
 * members left out (as `JSON.stringify` does). The same event always serializes to the same text,
 * so its MAC does not depend on the order in which a caller built the object.
 */

/** A value that serializes to JSON: what an audit event is made of. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue | undefined };

/**
 * Serializes `value` canonically. Throws a TypeError on what JSON cannot hold faithfully
 * (non-finite numbers, functions, symbols, bigints) instead of writing `null` in their place.
 */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`canonical JSON cannot hold the number ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
  if (typeof value === 'object') {
    const members: string[] = [];
    for (const key of Object.keys(value).sort()) {
      const member = value[key];
      if (member === undefined) continue;
      members.push(`${JSON.stringify(key)}:${canonicalJson(member)}`);
    }
    return `{${members.join(',')}}`;
  }
  throw new TypeError(`canonical JSON cannot hold a ${typeof value}`);
}
