// Types of generate-dictionary.mjs, for the tests that import it.

/** A dictionary entry: VR as PS3.6 spells it ("" for none), keyword (`RETIRED_` prefixed if retired). */
export type DictionaryEntry = [vr: string, keyword: string];

/** The content of gateway/dicom/dictionary-data.json. */
export interface DictionaryData {
  about: string;
  dcmjs: string;
  tags: Record<string, DictionaryEntry>;
  repeating: [key: string, vr: string, keyword: string][];
}

/** dcmjs's DicomMetaDictionary, as far as the generator uses it. */
export interface DcmjsMetaDictionary {
  dictionary: Record<string, { tag: string; vr: string; vm: string; name: string } | undefined>;
  nameMap: Record<string, { tag: string; vr: string; vm: string; name: string } | undefined>;
}

export interface Dcmjs {
  data: { DicomMetaDictionary: DcmjsMetaDictionary };
}

export const DICTIONARY_DATA_PATH: string;
export function loadDcmjs(): { dcmjs: Dcmjs; version: string };
export function dcmjsStandardEntries(META: DcmjsMetaDictionary): { tag: string; vr: string; name: string }[];
export function buildDictionaryData(source?: { dcmjs: Dcmjs; version: string }): DictionaryData;
export function checkAgainstDcmjs(data: DictionaryData, META: DcmjsMetaDictionary): void;
export function serializeDictionaryData(data: DictionaryData): string;
export function generateDictionaryJson(): string;
