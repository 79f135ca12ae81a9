/**
 * The DICOM JSON Model (PS3.18 F.2) of a data set written as the Native DICOM Model of PS3.19
 * Annex A (`application/dicom+xml`): a `NativeDicomModel` element holding one `DicomAttribute`
 * (tag, vr, keyword; privateCreator for private data elements) per attribute, with its values as
 * `Value number="n"`, person names as `PersonName number="n"` split into `Alphabetic`,
 * `Ideographic` and `Phonetic` groups of `FamilyName`, `GivenName`, `MiddleName`, `NamePrefix` and
 * `NameSuffix`, sequence items as `Item number="n"`, bulk data as `BulkData uri=".."` and inline
 * binary values as `InlineBinary` (base64). It is made from the very JSON the metadata route
 * serves, so the same access decisions and de-identification apply to both.
 *
 * XML 1.0 cannot carry the C0 control characters other than tab, line feed and carriage return
 * (a DICOM text value may hold them, e.g. a form feed in an LT): each is written as U+FFFD. A
 * carriage return is written as `&#13;` so that a parser does not turn it into a line feed.
 */
import { keywordForTag } from './dictionary.js';
import type { DicomJson, DicomJsonAttribute } from './types.js';

/** The XML namespace of the Native DICOM Model (PS3.19 A.1.6). */
export const NATIVE_DICOM_NAMESPACE = 'http://dicom.nema.org/PS3.19/models/NativeDICOM';

/** The components of a person name group, in the order of PS3.5 §6.2.1. */
export const NAME_COMPONENTS = ['FamilyName', 'GivenName', 'MiddleName', 'NamePrefix', 'NameSuffix'] as const;
const NAME_GROUPS = ['Alphabetic', 'Ideographic', 'Phonetic'] as const;

/** What is left to write: markup, or a data set (the root or an item) whose attributes come next. */
type Pending = string | DicomJson;

/**
 * The Native DICOM Model (an XML document) of a data set in the DICOM JSON Model. Written with a
 * stack of what is left rather than by recursion, so that sequences nested as deeply as a stored
 * instance may have them (an SR content tree) neither exhaust the call stack nor meet an XML
 * library's depth limit.
 */
export function nativeDicomXml(dataset: DicomJson): string {
  const out = [`<?xml version="1.0" encoding="UTF-8"?>\n<NativeDicomModel xmlns="${NATIVE_DICOM_NAMESPACE}" xml:space="preserve"`];
  const pending: Pending[] = [];
  if (Object.keys(dataset).length === 0) out.push('/>');
  else pending.push('</NativeDicomModel>', dataset, '>');
  while (pending.length > 0) {
    const next = pending.pop()!;
    if (typeof next === 'string') out.push(next);
    else {
      const written = attributesOf(next);
      for (let i = written.length - 1; i >= 0; i--) pending.push(written[i]);
    }
  }
  return out.join('');
}

/** The `DicomAttribute` elements of a data set (the root or an item), in tag order, items left pending. */
function attributesOf(dataset: DicomJson): Pending[] {
  return Object.keys(dataset)
    .sort()
    .flatMap((tag) => attributeNode(tag, dataset[tag], dataset));
}

function attributeNode(tag: string, attribute: DicomJsonAttribute, dataset: DicomJson): Pending[] {
  let start = `<DicomAttribute tag="${xmlAttribute(tag)}" vr="${xmlAttribute(String(attribute.vr))}"`;
  const keyword = keywordForTag(tag);
  if (keyword !== undefined) start += ` keyword="${xmlAttribute(keyword)}"`;
  const creator = privateCreatorOf(tag, dataset);
  if (creator !== undefined) start += ` privateCreator="${xmlAttribute(creator)}"`;
  const content = contentOf(attribute);
  if (content.length === 0) return [`${start}/>`];
  return [`${start}>`, ...content, '</DicomAttribute>'];
}

/** The BulkData, InlineBinary, Value, PersonName or Item elements of an attribute, numbered from 1. */
function contentOf(attribute: DicomJsonAttribute): Pending[] {
  if (attribute.BulkDataURI !== undefined) return [`<BulkData uri="${xmlAttribute(attribute.BulkDataURI)}"/>`];
  if (attribute.InlineBinary !== undefined) return [attribute.InlineBinary === '' ? '<InlineBinary/>' : `<InlineBinary>${xmlText(attribute.InlineBinary)}</InlineBinary>`];
  const values = attribute.Value;
  if (values === undefined) return [];
  if (attribute.vr === 'SQ') {
    return values.flatMap((item, i) => {
      const dataset = (item ?? {}) as DicomJson;
      return Object.keys(dataset).length === 0 ? [`<Item number="${i + 1}"/>`] : [`<Item number="${i + 1}">`, dataset, '</Item>'];
    });
  }
  if (attribute.vr === 'PN') return values.map((name, i) => element('PersonName', i + 1, personName(name)));
  return values.map((value, i) => element('Value', i + 1, value === null || value === undefined ? '' : xmlText(String(value))));
}

/** `<name number="n">content</name>`, or an empty element. */
function element(name: string, number: number, content: string): string {
  return content === '' ? `<${name} number="${number}"/>` : `<${name} number="${number}">${content}</${name}>`;
}

/** The groups of a person name value (`{ Alphabetic: 'Family^Given' }`), each split into its components. */
function personName(value: unknown): string {
  if (value === null || typeof value !== 'object') return '';
  let out = '';
  for (const group of NAME_GROUPS) {
    const text = (value as Record<string, unknown>)[group];
    if (typeof text !== 'string' || text === '') continue;
    let parts = '';
    text.split('^').forEach((part, i) => {
      if (part !== '' && i < NAME_COMPONENTS.length) parts += `<${NAME_COMPONENTS[i]}>${xmlText(part)}</${NAME_COMPONENTS[i]}>`;
    });
    if (parts !== '') out += `<${group}>${parts}</${group}>`;
  }
  return out;
}

/** The Private Creator of a private data element (gggg,xxee with xx >= 10) in the same data set. */
function privateCreatorOf(tag: string, dataset: DicomJson): string | undefined {
  const group = parseInt(tag.slice(0, 4), 16);
  const block = parseInt(tag.slice(4, 6), 16);
  if (group % 2 === 0 || block < 0x10) return undefined;
  const value = dataset[`${tag.slice(0, 4)}00${tag.slice(4, 6)}`]?.Value?.[0];
  return typeof value === 'string' ? value : undefined;
}

/** Text as XML 1.0 can carry it: markup escaped, a carriage return as `&#13;` (a parser turns a bare one into a line feed), disallowed control characters as U+FFFD. */
// eslint-disable-next-line no-control-regex -- these are the characters XML 1.0 forbids
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;
function xmlText(text: string): string {
  return text.replace(NOT_XML, '\uFFFD').replace(/[&<>"\r]/g, (c) => ESCAPES[c]);
}

/** An attribute value: as text, and tab and line feed as references (a parser turns them into spaces). */
function xmlAttribute(text: string): string {
  return xmlText(text).replace(/[\t\n]/g, (c) => ESCAPES[c]);
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\r': '&#13;', '\t': '&#9;', '\n': '&#10;' };
