/**
 * The part of dcmjs (which ships no types) the `dicomweb` adapter uses: its naturalized-free data
 * dictionaries (tag -> { vr, Value }), Part 10 writing and reading.
 */
declare module 'dcmjs' {
  /** One element: its VR and its values (byte values as ArrayBuffers). */
  export interface DcmjsElement {
    vr: string;
    Value: unknown[];
  }
  /** A data set: eight hex digits of the tag -> element. */
  export type DcmjsDataSet = Record<string, DcmjsElement>;
  class DicomDict {
    constructor(meta: DcmjsDataSet);
    meta: DcmjsDataSet;
    dict: DcmjsDataSet;
    write(options?: { allowInvalidVRLength?: boolean }): ArrayBuffer;
  }
  const dcmjs: {
    data: {
      DicomDict: typeof DicomDict;
      DicomMessage: { readFile(buffer: ArrayBuffer, options?: { ignoreErrors?: boolean; untilTag?: string }): DicomDict };
    };
  };
  export default dcmjs;
}
