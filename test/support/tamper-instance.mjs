#!/usr/bin/env node
// A tamper hook for `aegis conformance --tamper-command`: flips one bit in every fragment file and
// in the manifest copy of the instance named by CONFORMANCE_SOP_INSTANCE_UID, in the `local` file
// store of the Aegis data directory given as the argument (as an operator of untrusted storage
// could). Finds the files through the catalog's signed manifest, read-only.
import Database from 'better-sqlite3';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [dataDir] = process.argv.slice(2);
const sop = process.env.CONFORMANCE_SOP_INSTANCE_UID;
if (!dataDir || !sop) {
  console.error('usage: CONFORMANCE_SOP_INSTANCE_UID=UID tamper-instance.mjs DATA_DIR');
  process.exit(2);
}
const db = new Database(join(dataDir, 'catalog.sqlite'), { readonly: true, fileMustExist: true });
const row = db.prepare('SELECT manifest, locator FROM instances WHERE sop_instance_uid = ?').get(sop);
db.close();
if (!row?.manifest) {
  console.error(`no protected instance ${sop} in the catalog`);
  process.exit(1);
}
const storeDir = join(dataDir, 'stores', 'local');
const files = [...JSON.parse(row.manifest).fragments.map((f) => join(storeDir, f.locator)), join(storeDir, row.locator)];
for (const file of files) {
  const bytes = readFileSync(file);
  bytes[bytes.length >> 1] ^= 0x10;
  writeFileSync(file, bytes);
}
console.error(`tampered with ${files.length} files of instance ${sop}`);
