/**
 * Parses the query parameters of a QIDO-RS search (PS3.18 §8.3.4, §10.6.1.2) into a
 * {@link QidoQuery}: attribute matching (single value, wildcard `*` `?`, UID list, date, time and
 * datetime ranges, universal matching), `fuzzymatching`, `includefield`, `limit` and `offset`.
 * Keys are keywords or 8-digit hex tags; an unknown or malformed key is a 400 with a reason.
 */
import { GatewayError } from '../errors.js';
import { MATCHABLE, type QidoFilter, type QidoLevel, type QidoQuery } from '../catalog/query.js';
import { isPrivateCreatorTag, isPrivateTag, tagForKeyword, vrForTag } from '../dicom/dictionary.js';
import { assertUid } from '../dicom/uid.js';
import { checkPrivateCreators, parseAttributeFilter } from './qido-attributes.js';

const DATE = /^\d{8}$/;
const TIME = /^\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,6})?)?)?$/;

/** Resolves a query key (keyword or 8-digit hex tag) to an upper-case tag, or throws INVALID_QUERY_KEY. */
export function resolveAttributeKey(key: string): string {
  if (/^[0-9A-Fa-f]{8}$/.test(key)) return key.toUpperCase();
  const tag = tagForKeyword(key);
  if (!tag) throw new GatewayError('INVALID_QUERY_KEY', `'${truncate(key)}' is not a DICOM attribute keyword or tag`);
  return tag;
}

/** Parses the query string of a search at `level` within `scope`. */
export function parseQidoQuery(params: URLSearchParams, level: QidoLevel, scope: QidoQuery['scope'], options: { maxResults: number; maxScan: number }): QidoQuery {
  const query: QidoQuery = {
    level,
    scope,
    filters: [],
    attributeFilters: [],
    privateCreators: new Map(),
    scanLimit: options.maxScan,
    fuzzy: false,
    include: new Set(),
    includeAll: false,
    limit: options.maxResults,
    offset: 0,
    warnings: [],
  };
  const seen = new Set<string>();
  for (const [rawKey, value] of params) {
    const key = rawKey.trim();
    switch (key.toLowerCase()) {
      case 'limit':
        query.limit = Math.min(parseCount(key, value), options.maxResults);
        if (parseCount(key, value) > options.maxResults) {
          query.warnings.push(`limit ${value} exceeds the maximum of ${options.maxResults}; at most ${options.maxResults} results are returned`);
        }
        continue;
      case 'offset':
        query.offset = parseCount(key, value);
        continue;
      case 'fuzzymatching':
        if (value !== 'true' && value !== 'false') throw new GatewayError('INVALID_QUERY_VALUE', `fuzzymatching must be true or false, not '${truncate(value)}'`);
        query.fuzzy = value === 'true';
        continue;
      case 'includefield':
        for (const field of value
          .split(',')
          .map((f) => f.trim())
          .filter(Boolean)) {
          if (field.toLowerCase() === 'all') query.includeAll = true;
          else for (const tag of resolvePath(field)) query.include.add(tag);
        }
        continue;
      case 'orderby':
        query.warnings.push('orderby is not supported; results are in the catalog order');
        continue;
    }
    const path = resolvePath(key);
    if (path.length > 1) {
      query.warnings.push(`matching on sequence attribute ${key} is not supported; it was ignored`);
      continue;
    }
    const tag = path[0];
    if (isPrivateCreatorTag(tag)) {
      // A Private Creator names the block of the private attributes the query asks for.
      query.privateCreators.set(tag.slice(0, 4) + tag.slice(6), value.trim());
      continue;
    }
    query.include.add(tag);
    const spec = MATCHABLE[tag];
    if (!spec || isPrivateTag(tag)) {
      const filter = parseAttributeFilter(tag, value, key, query.warnings);
      if (filter) query.attributeFilters.push(filter);
      continue;
    }
    if (seen.has(tag) && spec.match !== 'uids') throw new GatewayError('INVALID_QUERY_VALUE', `${key} is given more than once`);
    seen.add(tag);
    const filter = parseFilter(tag, spec.match, value, key);
    if (filter) query.filters.push(mergeUids(query.filters, filter));
  }
  query.filters = query.filters.filter((f, i, all) => all.findIndex((g) => g.tag === f.tag) === i);
  checkPrivateCreators(query);
  return query;
}

function parseFilter(tag: string, match: (typeof MATCHABLE)[string]['match'], raw: string, key: string): QidoFilter | undefined {
  const value = raw.trim();
  if (value === '' || value === '*') return undefined; // universal matching
  switch (match) {
    case 'uids': {
      const values = value
        .split(/[\\,]/)
        .map((v) => v.trim())
        .filter(Boolean);
      for (const uid of values) assertUid(uid, key);
      return { tag, kind: 'uids', values };
    }
    case 'number': {
      if (!/^[+-]?\d{1,10}$/.test(value)) throw new GatewayError('INVALID_QUERY_VALUE', `${key} must be an integer, not '${truncate(value)}'`);
      return { tag, kind: 'number', value: Number(value) };
    }
    case 'date':
    case 'time': {
      const pattern = match === 'date' ? DATE : TIME;
      const [from, to, extra] = value.includes('-') ? value.split('-') : [value, value];
      const ok = extra === undefined && (from !== '' || to !== '') && (from === '' || pattern.test(from)) && (to === '' || pattern.test(to));
      if (!ok) {
        throw new GatewayError('INVALID_QUERY_VALUE', `${key} '${truncate(value)}' is not a ${match === 'date' ? 'date (YYYYMMDD)' : 'time (HHMMSS.FFFFFF)'} or a range of them`);
      }
      return { tag, kind: 'range', from: from || undefined, to: to || undefined };
    }
    case 'text':
    case 'person':
      if (value.length > 256) throw new GatewayError('INVALID_QUERY_VALUE', `${key} value is too long`);
      return { tag, kind: 'text', value, wildcard: /[*?]/.test(value) };
  }
}

function mergeUids(filters: QidoFilter[], filter: QidoFilter): QidoFilter {
  const existing = filters.find((f) => f.tag === filter.tag);
  if (existing && existing.kind === 'uids' && filter.kind === 'uids') {
    existing.values.push(...filter.values);
    return existing;
  }
  return filter;
}

/** A key `00400275.00321060` or `RequestAttributesSequence.RequestedProcedureID` as a list of tags. */
function resolvePath(key: string): string[] {
  const tags = key.split('.').map((part) => resolveAttributeKey(part.trim()));
  for (const tag of tags.slice(0, -1)) {
    if (vrForTag(tag) !== 'SQ') throw new GatewayError('INVALID_QUERY_KEY', `'${truncate(key)}': ${tag} is not a sequence`);
  }
  return tags;
}

function parseCount(key: string, value: string): number {
  if (!/^\d{1,9}$/.test(value.trim())) throw new GatewayError('INVALID_QUERY_VALUE', `${key} must be a non-negative integer, not '${truncate(value)}'`);
  return Number(value.trim());
}

function truncate(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}...` : text;
}
