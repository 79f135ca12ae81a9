/**
 * Reads the Native DICOM Model (PS3.19 Annex A) back with fast-xml-parser's XMLParser, written
 * for the tests and independent of the gateway's writer, into a comparable form of the DICOM JSON
 * Model: every value as text (numbers in decimal, empty values ''), person names by group with
 * their components joined by '^' (trailing empty components dropped), so that the JSON the gateway
 * serves and the XML it serves can be compared attribute by attribute.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';

/** An attribute in the comparable form. */
export interface Comparable {
  vr: string;
  keyword?: string;
  privateCreator?: string;
  values?: unknown[];
  bulkDataUri?: string;
  inlineBinary?: string;
}
export type ComparableDataSet = Record<string, Comparable>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  // Character references (`&#13;`): the writer keeps carriage returns with them.
  htmlEntities: true,
  isArray: (name) => ['DicomAttribute', 'Value', 'PersonName', 'Item'].includes(name),
});

const COMPONENTS = ['FamilyName', 'GivenName', 'MiddleName', 'NamePrefix', 'NameSuffix'];
const GROUPS = ['Alphabetic', 'Ideographic', 'Phonetic'];

/** Throws unless `xml` is well-formed XML; returns its NativeDicomModel as comparable attributes. */
export function readNativeXml(xml: string): { namespace: string; dataset: ComparableDataSet } {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new Error(`not well-formed XML: ${JSON.stringify(valid.err)}`);
  const doc = parser.parse(xml) as Record<string, any>;
  const root = doc.NativeDicomModel;
  if (root === undefined) throw new Error('no NativeDicomModel element');
  return { namespace: root['@_xmlns'], dataset: readDataSet(root) };
}

function readDataSet(node: Record<string, any>): ComparableDataSet {
  const out: ComparableDataSet = {};
  for (const attr of (node.DicomAttribute ?? []) as Record<string, any>[]) {
    const tag = attr['@_tag'] as string;
    const one: Comparable = { vr: attr['@_vr'] };
    if (attr['@_keyword'] !== undefined) one.keyword = attr['@_keyword'];
    if (attr['@_privateCreator'] !== undefined) one.privateCreator = attr['@_privateCreator'];
    if (attr.BulkData !== undefined) one.bulkDataUri = attr.BulkData['@_uri'];
    if (attr.InlineBinary !== undefined) one.inlineBinary = String(attr.InlineBinary);
    if (attr.Item !== undefined) one.values = numbered(attr.Item).map((item) => readDataSet(item));
    if (attr.PersonName !== undefined) one.values = numbered(attr.PersonName).map(personName);
    if (attr.Value !== undefined) one.values = numbered(attr.Value).map((v) => (typeof v === 'object' ? (v['#text'] ?? '') : String(v)));
    out[tag] = one;
  }
  return out;
}

/** The elements in the order of their `number` attribute, which must run 1..n. */
function numbered(nodes: any[]): any[] {
  const sorted = [...nodes].sort((a, b) => Number(a['@_number']) - Number(b['@_number']));
  sorted.forEach((n, i) => {
    if (Number(n['@_number']) !== i + 1) throw new Error(`value numbers do not run 1..n: ${JSON.stringify(nodes.map((m) => m['@_number']))}`);
  });
  return sorted;
}

function personName(node: Record<string, any>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const group of GROUPS) {
    if (node[group] === undefined) continue;
    out[group] = trimCarets(COMPONENTS.map((c) => (node[group][c] === undefined ? '' : String(node[group][c]))).join('^'));
  }
  return out;
}

function trimCarets(name: string): string {
  return xmlSafe(name).replace(/\^+$/, '');
}

/** XML 1.0 cannot carry most C0 controls: the writer replaces each with U+FFFD, and so does the comparable form. */
function xmlSafe(text: string): string {
  // eslint-disable-next-line no-control-regex -- the characters XML 1.0 forbids
  return text.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '\uFFFD');
}

/** The DICOM JSON Model of a data set in the comparable form (`keywords` gives each tag's keyword). */
export function comparableJson(dataset: Record<string, any>, keywordOf: (tag: string) => string | undefined): ComparableDataSet {
  const out: ComparableDataSet = {};
  for (const [tag, attr] of Object.entries(dataset)) {
    const one: Comparable = { vr: attr.vr };
    const keyword = keywordOf(tag);
    if (keyword !== undefined) one.keyword = keyword;
    const group = parseInt(tag.slice(0, 4), 16);
    const block = parseInt(tag.slice(4, 6), 16);
    const creator = dataset[`${tag.slice(0, 4)}00${tag.slice(4, 6)}`]?.Value?.[0];
    if (group % 2 === 1 && block >= 0x10 && typeof creator === 'string') one.privateCreator = xmlSafe(creator);
    if (attr.BulkDataURI !== undefined) one.bulkDataUri = attr.BulkDataURI;
    if (attr.InlineBinary !== undefined) one.inlineBinary = attr.InlineBinary;
    if (attr.Value !== undefined) {
      one.values = (attr.Value as unknown[]).map((v) => {
        if (attr.vr === 'SQ') return comparableJson((v ?? {}) as Record<string, any>, keywordOf);
        if (attr.vr === 'PN')
          return Object.fromEntries(
            Object.entries((v ?? {}) as Record<string, string>)
              .filter(([, text]) => trimCarets(text) !== '')
              .map(([g, text]) => [g, trimCarets(text)]),
          );
        return v === null || v === undefined ? '' : xmlSafe(String(v));
      });
    }
    out[tag] = one;
  }
  return out;
}
