/**
 * Catalog rows for tests of the catalog and of what reads it: an instance as STOW-RS would record
 * it (`Catalog.addInstance`), with a placeholder storage record (a local key, an empty manifest)
 * and the attributes a test gives.
 */
import type { NewInstance } from '../../gateway/catalog/catalog.js';
import type { DicomJson } from '../../gateway/dicom/types.js';

/** A text attribute of DICOM JSON. */
export const text = (vr: string, value: string) => ({ vr, Value: [value] });

/**
 * The catalog row of instance `sop` of series `series` of study `study`: a CT image in Explicit VR
 * Little Endian whose metadata is `metadata` (by default its three UIDs and an Institution Name).
 */
export function catalogInstance(study: string, series: string, sop: string, metadata?: DicomJson): NewInstance {
  return {
    sopInstanceUid: sop,
    seriesUid: series,
    studyUid: study,
    sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
    transferSyntaxUid: '1.2.840.10008.1.2.1',
    metadata: metadata ?? { '00080018': text('UI', sop), '0020000D': text('UI', study), '0020000E': text('UI', series), '00080080': text('LO', 'CHU Nord') },
    layout: {},
    size: 1,
    sha256: '0'.repeat(64),
    backend: 'local',
    key: sop,
    locator: sop,
    manifest: '{}',
  };
}
