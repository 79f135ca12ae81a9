/**
 * The real-world DICOM corpus of the unit tests: the sample files that Debian's python3-pydicom
 * installs (test_files and charset_files). Tests that use it fail, never skip, when it is missing.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Where Debian's python3-pydicom keeps its sample data. */
export const PYDICOM_DATA = '/usr/lib/python3/dist-packages/pydicom/data';
/** The corpus folders, searched recursively. */
export const CORPUS_DIRS = [join(PYDICOM_DATA, 'test_files'), join(PYDICOM_DATA, 'charset_files')];

const EXCLUDED = /(\.py|\.txt|\.json|\.dump|\.gz|\.pyc)$|^README/;

/**
 * Every regular file of the corpus (DICOMDIRs and extension-less files included), sorted,
 * except Python sources, text, JSON, dumps, gzip archives and READMEs.
 */
export function corpusFiles(): string[] {
  const files: string[] = [];
  for (const dir of CORPUS_DIRS) {
    let isDir = false;
    try {
      isDir = statSync(dir).isDirectory();
    } catch {
      isDir = false;
    }
    if (!isDir) {
      throw new Error(`DICOM corpus ${dir} is missing: install it with \`apt-get install -y python3-pydicom\``);
    }
    walk(dir, files);
  }
  return files.sort();
}

function walk(dir: string, files: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, files);
    else if (entry.isFile() && !EXCLUDED.test(entry.name)) files.push(path);
  }
}
