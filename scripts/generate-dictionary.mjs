#!/usr/bin/env node
/**
 * Generates gateway/dicom/dictionary-data.json, the DICOM data dictionary (PS3.6 §6, Registry of
 * DICOM Data Elements) of the gateway, from the registry as packaged by dcmjs (a devDependency:
 * the gateway does not load dcmjs at runtime, only this table).
 *
 *   node scripts/generate-dictionary.mjs            # rewrites gateway/dicom/dictionary-data.json
 *   node scripts/generate-dictionary.mjs <path>     # writes elsewhere
 *
 * The table (see gateway/dicom/dictionary.ts for how it is read):
 *   "tags":      { "GGGGEEEE": [vr, keyword], ... } the exact tags, in tag order;
 *   "repeating": [ ["GGxxEEEE", vr, keyword], ... ] the repeating groups (50xx curves, 60xx
 *                overlays, 7Fxx variable pixel data): every group GG00-GGFF with element EEEE,
 *                unless an exact tag says otherwise; the keyword names group GG00.
 * VRs are spelled as in PS3.6 ("OB or OW", "US or SS", "US or OW"; "" for the items and
 * delimiters, which have none); keywords are dcmjs's, with its `RETIRED_` prefix for retired
 * attributes. A keyword held by several entries (dcmjs has a few) belongs to the last of them,
 * exact tags first, as in dcmjs's nameMap.
 *
 * The generator reads dcmjs's own list of entries (the one it builds its nameMap from), then checks
 * the result against dcmjs's public lookups (dictionary by tag, nameMap by keyword) and fails
 * rather than write a table that answers differently. test/unit/dicom/dictionary-data.test.ts
 * checks that the committed file is what this script writes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);

/** Where the table lives. */
export const DICTIONARY_DATA_PATH = fileURLToPath(new URL('../gateway/dicom/dictionary-data.json', import.meta.url));

/** dcmjs's VR codes for the PS3.6 choices and for "no VR", spelled as PS3.6 does. */
const VR_SPELLING = { ox: 'OB or OW', xs: 'US or SS', lt: 'US or OW', up: 'UL', na: '' };

const hex4 = (n) => n.toString(16).toUpperCase().padStart(4, '0');
const hex8 = (punctuated) => punctuated.slice(1, 5) + punctuated.slice(6, 10); // "(GGGG,EEEE)"

/** The installed dcmjs and its version. */
export function loadDcmjs() {
  // dcmjs's "exports" hide its package.json: find it above the resolved entry point.
  for (let dir = dirname(require.resolve('dcmjs')); dir !== dirname(dir); dir = dirname(dir)) {
    let manifest;
    try {
      manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    } catch {
      continue;
    }
    if (manifest.name === 'dcmjs') return { dcmjs: require('dcmjs'), version: manifest.version };
  }
  throw new Error("cannot find dcmjs's package.json");
}

/**
 * Every standard entry of dcmjs, in its order: the exact tags (ascending), then the repeating-group
 * ranges (tagged with their first group). dcmjs keeps them packed and does not export them; its
 * nameMap builder enumerates them, so this runs the builder against a recorder and puts the real
 * nameMap back.
 */
export function dcmjsStandardEntries(META) {
  const original = Object.getOwnPropertyDescriptor(META, 'nameMap');
  if (typeof META._generateNameMap !== 'function' || original === undefined) {
    throw new Error('dcmjs no longer has DicomMetaDictionary._generateNameMap/nameMap: adapt generate-dictionary.mjs');
  }
  const entries = [];
  const recorder = new Proxy(Object.create(null), {
    set(target, key, value) {
      entries.push(value);
      target[key] = value;
      return true;
    },
  });
  Object.defineProperty(META, 'nameMap', { configurable: true, get: () => recorder, set: () => {} });
  try {
    META._generateNameMap();
  } finally {
    Object.defineProperty(META, 'nameMap', original);
  }
  return entries.map(({ tag, vr, name }) => ({ tag: hex8(tag), vr, name }));
}

/** How dictionary.ts answers from a table: exact tags first, then the repeating group of the tag. */
function tableLookup(data) {
  const repeating = new Map();
  for (const [key, vr, name] of data.repeating) if (!repeating.has(key)) repeating.set(key, [vr, name]);
  return (tag) => data.tags[tag] ?? repeating.get(tag.slice(0, 2) + 'xx' + tag.slice(4));
}

function spell(vr) {
  const spelled = Object.hasOwn(VR_SPELLING, vr) ? VR_SPELLING[vr] : vr;
  if (!/^([A-Z]{2}|[A-Z]{2} or [A-Z]{2}|)$/.test(spelled)) throw new Error(`unexpected VR "${vr}" in dcmjs's dictionary`);
  return spelled;
}

/** The table as an object: { about, dcmjs, tags, repeating }. Throws if it would answer differently from dcmjs. */
export function buildDictionaryData({ dcmjs, version } = loadDcmjs()) {
  const META = dcmjs.data.DicomMetaDictionary;
  const entries = dcmjsStandardEntries(META);
  // The exact tags come first, strictly ascending; the ranges follow (the order drops there).
  let split = 1;
  while (split < entries.length && entries[split].tag > entries[split - 1].tag) split++;
  const tags = {};
  for (const { tag, vr, name } of entries.slice(0, split)) tags[tag] = [spell(vr), name];
  const repeating = [];
  for (const { tag, vr, name } of entries.slice(split)) {
    if (tag.slice(2, 4) !== '00') throw new Error(`repeating group ${tag} does not start at GG00`);
    repeating.push([`${tag.slice(0, 2)}xx${tag.slice(4)}`, spell(vr), name]);
  }
  const data = {
    about: `DICOM data dictionary: the PS3.6 Registry of DICOM Data Elements as packaged by dcmjs ${version}. Generated; do not edit. Regenerate with: node scripts/generate-dictionary.mjs`,
    dcmjs: version,
    tags,
    repeating,
  };
  checkAgainstDcmjs(data, META);
  return data;
}

/**
 * Compares the table with dcmjs's public lookups: every exact tag, every repeating group of every
 * even group GG00-GGFF and the groups just outside, and every keyword of the nameMap.
 */
export function checkAgainstDcmjs(data, META) {
  const lookup = tableLookup(data);
  const problems = [];
  const compare = (tag) => {
    const ours = lookup(tag);
    const theirs = META.dictionary[tag];
    const want = theirs === undefined ? undefined : `${spell(theirs.vr)}|${theirs.name}`;
    const got = ours === undefined ? undefined : `${ours[0]}|${ours[1]}`;
    if (got !== want) problems.push(`${tag}: table ${got}, dcmjs ${want}`);
  };
  for (const tag of Object.keys(data.tags)) compare(tag);
  for (const [key] of data.repeating) {
    const first = parseInt(key.slice(0, 2) + '00', 16);
    for (let group = Math.max(0, first - 2); group <= Math.min(0xfffe, first + 0x101); group += 2) {
      compare(hex4(group) + key.slice(4));
    }
  }
  const keywords = keywordTable(data);
  const names = Object.keys(META.nameMap);
  for (const name of names) {
    const want = hex8(META.nameMap[name].tag);
    if (keywords.get(name) !== want) problems.push(`keyword ${name}: table ${keywords.get(name)}, dcmjs ${want}`);
  }
  if (keywords.size !== names.length) problems.push(`${keywords.size} keywords in the table, ${names.length} in dcmjs`);
  if (problems.length > 0) {
    throw new Error(`the generated dictionary differs from dcmjs's:\n  ${problems.slice(0, 20).join('\n  ')}`);
  }
}

/** Keyword -> tag as dictionary.ts builds it: exact tags in tag order, then the repeating groups; the last wins. */
function keywordTable(data) {
  const keywords = new Map();
  for (const tag of Object.keys(data.tags).sort()) keywords.set(data.tags[tag][1], tag);
  for (const [key, , name] of data.repeating) keywords.set(name, key.replace('xx', '00'));
  return keywords;
}

/** The JSON text: one entry a line (reviewable diffs), no other white space. */
export function serializeDictionaryData(data) {
  const tags = Object.keys(data.tags)
    .sort()
    .map((tag) => `${JSON.stringify(tag)}:${JSON.stringify(data.tags[tag])}`);
  const repeating = data.repeating.map((entry) => JSON.stringify(entry));
  return `{"about":${JSON.stringify(data.about)},\n"dcmjs":${JSON.stringify(data.dcmjs)},\n` + `"tags":{\n${tags.join(',\n')}},\n"repeating":[\n${repeating.join(',\n')}]}\n`;
}

/** The text of gateway/dicom/dictionary-data.json from the installed dcmjs. */
export function generateDictionaryJson() {
  return serializeDictionaryData(buildDictionaryData());
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const out = process.argv[2] ?? DICTIONARY_DATA_PATH;
  const text = generateDictionaryJson();
  writeFileSync(out, text);
  const data = JSON.parse(text);
  console.log(`${out}: ${Object.keys(data.tags).length} tags, ${data.repeating.length} repeating groups, ` + `${text.length} bytes, from dcmjs ${data.dcmjs}`);
}
