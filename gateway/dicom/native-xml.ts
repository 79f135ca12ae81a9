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
import { XMLBuilder } from 'fast-xml-parser';
import { keywordForTag } from './dictionary.js';
import type { DicomJson, DicomJsonAttribute } from './types.js';

/** The XML namespace of the Native DICOM Model (PS3.19 A.1.6). */
export const NATIVE_DICOM_NAMESPACE = 'http://dicom.nema.org/PS3.19/models/NativeDICOM';

/** The components of a person name group, in the order of PS3.5 §6.2.1. */
export const NAME_COMPONENTS = ['FamilyName', 'GivenName', 'MiddleName', 'NamePrefix', 'NameSuffix'] as const;
const NAME_GROUPS = ['Alphabetic', 'Ideographic', 'Phonetic'] as const;

type XmlNode = Record<string, unknown>;

// Text is escaped here (`xmlText`, `xmlAttribute`), so that a carriage return survives as `&#13;`.
const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', suppressEmptyNode: true, processEntities: false });

/** The Native DICOM Model (an XML document) of a data set in the DICOM JSON Model. */
export function nativeDicomXml(dataset: DicomJson): string {
  const root = { NativeDicomModel: { '@_xmlns': NATIVE_DICOM_NAMESPACE, '@_xml:space': 'preserve', ...attributesOf(dataset) } };
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build(root) as string}`;
}

/** The `DicomAttribute` elements of a data set (the root or an item), in tag order. */
function attributesOf(dataset: DicomJson): XmlNode {
  const tags = Object.keys(dataset).sort();
  if (tags.length === 0) return {};
  return { DicomAttribute: tags.map((tag) => attributeNode(tag, dataset[tag], dataset)) };
}

function attributeNode(tag: string, attribute: DicomJsonAttribute, dataset: DicomJson): XmlNode {
  const node: XmlNode = { '@_tag': tag, '@_vr': attribute.vr };
  const keyword = keywordForTag(tag);
  if (keyword !== undefined) node['@_keyword'] = keyword;
  const creator = privateCreatorOf(tag, dataset);
  if (creator !== undefined) node['@_privateCreator'] = xmlAttribute(creator);
  if (attribute.BulkDataURI !== undefined) node.BulkData = { '@_uri': xmlAttribute(attribute.BulkDataURI) };
  else if (attribute.InlineBinary !== undefined) node.InlineBinary = attribute.InlineBinary;
  else if (attribute.Value !== undefined) Object.assign(node, valuesOf(attribute));
  return node;
}

/** The Value, PersonName or Item elements of an attribute's values, numbered from 1. */
function valuesOf(attribute: DicomJsonAttribute): XmlNode {
  const values = attribute.Value!;
  if (attribute.vr === 'SQ') return { Item: values.map((item, i) => ({ '@_number': i + 1, ...attributesOf((item ?? {}) as DicomJson) })) };
  if (attribute.vr === 'PN') return { PersonName: values.map((name, i) => ({ '@_number': i + 1, ...personName(name) })) };
  return { Value: values.map((value, i) => (value === null || value === undefined ? { '@_number': i + 1 } : { '@_number': i + 1, '#text': xmlText(String(value)) })) };
}

/** The groups of a person name value (`{ Alphabetic: 'Family^Given' }`), each split into its components. */
function personName(value: unknown): XmlNode {
  if (value === null || typeof value !== 'object') return {};
  const out: XmlNode = {};
  for (const group of NAME_GROUPS) {
    const text = (value as Record<string, unknown>)[group];
    if (typeof text !== 'string' || text === '') continue;
    const parts: XmlNode = {};
    text.split('^').forEach((part, i) => {
      if (part !== '' && i < NAME_COMPONENTS.length) parts[NAME_COMPONENTS[i]] = xmlText(part);
    });
    if (Object.keys(parts).length > 0) out[group] = parts;
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
