/**
 * gateway/dicom/dictionary-data.json against the dcmjs it is generated from (which only the dicomweb adapter uses at runtime):
 * the committed table is exactly what scripts/generate-dictionary.mjs writes, and the dictionary
 * functions answer as they did when they were backed by dcmjs at runtime (the reference below is
 * that implementation), for every entry of dcmjs's dictionary and nameMap, every group of the
 * repeating groups, and a sample of other tags.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as dictionary from '../../../gateway/dicom/dictionary.js';
import { DICTIONARY_DATA_PATH, buildDictionaryData, checkAgainstDcmjs, dcmjsStandardEntries, loadDcmjs, serializeDictionaryData } from '../../../scripts/generate-dictionary.mjs';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const source = loadDcmjs();
const META = source.dcmjs.data.DicomMetaDictionary;

/** The dcmjs-backed implementation the table replaces, verbatim but for the dcmjs handle. */
const reference = (() => {
  const TAG_PATTERN = /^[0-9A-F]{8}$/;
  const RETIRED_PREFIX = 'RETIRED_';
  const AMBIGUOUS_VR: Record<string, string> = { ox: 'OB or OW', xs: 'US or SS', lt: 'US or OW', up: 'UL' };
  function normalizeTag(tag: string): string | undefined {
    const hex = tag
      .replace(/^x/i, '')
      .replace(/[(),\s]/g, '')
      .toUpperCase();
    return TAG_PATTERN.test(hex) ? hex : undefined;
  }
  function entryForTag(tag: string) {
    const hex = normalizeTag(tag);
    if (hex === undefined) return undefined;
    const group = parseInt(hex.slice(0, 4), 16);
    if (group % 2 === 1) return undefined;
    return META.dictionary[hex];
  }
  function isPrivateTag(tag: string): boolean {
    const hex = normalizeTag(tag);
    return hex !== undefined && parseInt(hex.slice(0, 4), 16) % 2 === 1;
  }
  function isPrivateCreatorTag(tag: string): boolean {
    const hex = normalizeTag(tag);
    if (hex === undefined || parseInt(hex.slice(0, 4), 16) % 2 === 0) return false;
    const element = parseInt(hex.slice(4), 16);
    return element >= 0x0010 && element <= 0x00ff;
  }
  function tagForKeyword(keyword: string): string | undefined {
    const entry = META.nameMap[keyword] ?? META.nameMap[RETIRED_PREFIX + keyword];
    return entry === undefined ? undefined : normalizeTag(entry.tag);
  }
  function keywordForTag(tag: string): string | undefined {
    const name = entryForTag(tag)?.name;
    if (name === undefined) return undefined;
    return name.startsWith(RETIRED_PREFIX) ? name.slice(RETIRED_PREFIX.length) : name;
  }
  function dictionaryVR(tag: string): string | undefined {
    const hex = normalizeTag(tag);
    if (hex === undefined) return undefined;
    if (hex.endsWith('0000')) return 'UL';
    if (isPrivateCreatorTag(hex)) return 'LO';
    const vr = entryForTag(hex)?.vr;
    if (vr === undefined || vr === 'na') return undefined;
    return AMBIGUOUS_VR[vr] ?? vr;
  }
  function vrForTag(tag: string): string | undefined {
    const vr = dictionaryVR(tag);
    if (vr === undefined) return undefined;
    if (vr.length === 2) return vr;
    return vr === 'US or SS' ? 'US' : 'OW';
  }
  return { normalizeTag, isPrivateTag, isPrivateCreatorTag, tagForKeyword, keywordForTag, dictionaryVR, vrForTag };
})();

const TAG_FUNCTIONS = ['normalizeTag', 'isPrivateTag', 'isPrivateCreatorTag', 'keywordForTag', 'dictionaryVR', 'vrForTag'] as const;

/** Compares every tag function on each tag; returns the first differences (an empty list when none). */
function tagDifferences(tags: Iterable<string>): string[] {
  const differences: string[] = [];
  for (const tag of tags) {
    for (const name of TAG_FUNCTIONS) {
      const got = dictionary[name](tag);
      const want = reference[name](tag);
      if (got !== want && differences.length < 20) differences.push(`${name}(${JSON.stringify(tag)}): ${got}, dcmjs ${want}`);
    }
  }
  return differences;
}

function keywordDifferences(keywords: Iterable<string>): string[] {
  const differences: string[] = [];
  for (const keyword of keywords) {
    const got = dictionary.tagForKeyword(keyword);
    const want = reference.tagForKeyword(keyword);
    if (got !== want && differences.length < 20) differences.push(`tagForKeyword(${JSON.stringify(keyword)}): ${got}, dcmjs ${want}`);
  }
  return differences;
}

const hex4 = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
const unpunctuate = (tag: string) => tag.slice(1, 5) + tag.slice(6, 10);

describe('dictionary-data.json', () => {
  it('is exactly what scripts/generate-dictionary.mjs makes of the installed dcmjs', () => {
    const generated = serializeDictionaryData(buildDictionaryData(source));
    const committed = readFileSync(DICTIONARY_DATA_PATH, 'utf8');
    assert.ok(generated === committed, 'dictionary-data.json is stale: run `node scripts/generate-dictionary.mjs`');
    const data = JSON.parse(committed) as { about: string; dcmjs: string };
    assert.equal(data.dcmjs, source.version, 'the table names the dcmjs version it comes from');
    assert.match(data.about, /PS3\.6.*dcmjs.*node scripts\/generate-dictionary\.mjs/, 'provenance and how to regenerate');
    assert.ok(committed.length < 400_000, `the table stays small (${committed.length} bytes)`);
  });

  it('the generator refuses a table that answers differently from dcmjs', () => {
    const data = buildDictionaryData(source);
    const wrongVR = structuredClone(data);
    wrongVR.tags['00100010'] = ['LO', 'PatientName'];
    assert.throws(() => checkAgainstDcmjs(wrongVR, META), /00100010/, 'a wrong VR is caught');
    const missing = structuredClone(data);
    delete missing.tags['00280010'];
    assert.throws(() => checkAgainstDcmjs(missing, META), /Rows/, 'a missing tag is caught (by its keyword)');
    const narrowRange = structuredClone(data);
    narrowRange.repeating = narrowRange.repeating.filter(([key]) => key !== '60xx3000');
    assert.throws(() => checkAgainstDcmjs(narrowRange, META), /60..3000/, 'a missing repeating group is caught');
  });
});

describe('the dictionary functions answer as dcmjs does', () => {
  const entries = dcmjsStandardEntries(META);
  const nameMap = Object.keys(META.nameMap);

  it('for every entry of dcmjs (exact tags and the first group of each repeating group)', () => {
    assert.ok(entries.length > 5000, `dcmjs lists its entries (${entries.length})`);
    assert.deepEqual(tagDifferences(entries.map((entry) => entry.tag)), [], 'tag functions on dcmjs entries');
    const punctuated = entries.slice(0, 200).flatMap(({ tag }) => [`(${tag.slice(0, 4)},${tag.slice(4)})`, `x${tag.toLowerCase()}`]);
    assert.deepEqual(tagDifferences(punctuated), [], 'tag functions on other spellings of tags');
  });

  it('for every keyword of the nameMap, with and without the RETIRED_ prefix', () => {
    assert.ok(nameMap.length > 5000, `dcmjs has its nameMap (${nameMap.length})`);
    const stripped = nameMap.filter((name) => name.startsWith('RETIRED_')).map((name) => name.slice('RETIRED_'.length));
    assert.ok(stripped.length > 400, `retired keywords (${stripped.length})`);
    assert.deepEqual(keywordDifferences([...nameMap, ...stripped]), [], 'tagForKeyword on the nameMap');
    const tags = nameMap.map((name) => unpunctuate(META.nameMap[name]!.tag));
    assert.deepEqual(tagDifferences(tags), [], 'tag functions on the tags of the nameMap');
    const others = ['NotAKeyword', '', 'RETIRED_', 'patientname', 'PatientName ', 'undefined', 'RETIRED_undefined', 'Item'];
    assert.deepEqual(keywordDifferences(others), [], 'tagForKeyword on other strings');
  });

  it('for every group of the repeating groups, and the edges of every other GGxx block', () => {
    // dcmjs lists its exact tags in ascending order, then its repeating groups (by their first group).
    let split = 1;
    while (split < entries.length && entries[split]!.tag > entries[split - 1]!.tag) split++;
    const repeating = entries.slice(split).map((entry) => entry.tag);
    assert.ok(repeating.length > 60, `dcmjs has its repeating groups (${repeating.length})`);
    const blocks: string[] = [];
    for (const tag of repeating) {
      const first = parseInt(tag.slice(0, 2), 16) << 8;
      for (let group = Math.max(0, first - 2); group <= Math.min(0xffff, first + 0x101); group++) blocks.push(hex4(group) + tag.slice(4));
    }
    assert.deepEqual(tagDifferences(blocks), [], 'tag functions on GG00-GGFF (and around) of each repeating group');
    // Elsewhere, the first, second and last even group of every GGxx block, for the same elements
    // (dcmjs's repeating groups are group intervals: a stray one would show at an edge). A sweep of
    // every even group would take ~10 s, dcmjs's misses being slow.
    const edges: string[] = [];
    for (const element of new Set(repeating.map((tag) => tag.slice(4)))) {
      for (let high = 0; high <= 0xff00; high += 0x100) {
        for (const low of [0x00, 0x02, 0xfe]) edges.push(hex4(high + low) + element);
      }
    }
    assert.deepEqual(tagDifferences(edges), [], 'tag functions at the edges of every GGxx block');
    assert.equal(dictionary.keywordForTag('60FE3000'), 'OverlayData', 'last overlay group');
    assert.equal(dictionary.keywordForTag('61003000'), undefined, 'past the overlay groups');
    assert.equal(dictionary.keywordForTag('7FE00011'), 'VariableNextDataGroup', 'an exact tag within a repeating group');
  });

  it('for a sample of other tags and strings', () => {
    let state = 0x2f6b1d3;
    const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0);
    const tags: string[] = [];
    const known = entries.map((entry) => entry.tag);
    for (let i = 0; i < 50_000; i++) {
      const r = next();
      // Neighbours of known tags (same group), and anything at all.
      const base = known[r % known.length]!;
      tags.push(i % 2 === 0 ? base.slice(0, 4) + hex4(next() & 0xffff) : hex4(r >>> 16) + hex4(next() & 0xffff));
    }
    tags.push('', 'nonsense', '0010001', '001000100', '(0010,0010)', '0010,0010', ' 0010 0010 ', 'X0010000D', '00090010', '00091010', 'FFFEE000');
    assert.deepEqual(tagDifferences(tags), [], 'tag functions on a sample');
  });

  it('keywords that are Object.prototype members are unknown (dcmjs threw on them)', () => {
    for (const keyword of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      assert.equal(dictionary.tagForKeyword(keyword), undefined, keyword);
    }
  });
});

describe('the gateway does without dcmjs', () => {
  it('only the dicomweb adapter imports dcmjs (to write the DICOM containers of fragments): no gateway source does', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    assert.ok(manifest.dependencies.dcmjs !== undefined, 'dcmjs is a runtime dependency (of the dicomweb adapter)');
    assert.equal(manifest.devDependencies.dcmjs, undefined, 'dcmjs is listed once');
    const importers: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (/\.[cm]?[jt]s$/.test(entry.name) && /['"]dcmjs(\/[^'"]*)?['"]/.test(readFileSync(path, 'utf8'))) importers.push(path.slice(root.length));
      }
    };
    walk(join(root, 'gateway'));
    walk(join(root, 'adapters'));
    assert.deepEqual(importers.sort(), ['adapters/dicomweb/dcmjs.d.ts', 'adapters/dicomweb/fragment-instance.ts'], 'sources that name the dcmjs module');
  });
});
