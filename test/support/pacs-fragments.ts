/**
 * Tampering with what the `dicomweb` backend stored inside a real Orthanc, behind the gateway's
 * back: find the Orthanc instance that carries a fragment, and change one byte of the fragment it
 * carries while keeping its UIDs (deleted and stored again through STOW-RS).
 */
import assert from 'node:assert/strict';
import dcmjs from 'dcmjs';
import { stow } from './dicomweb.js';
import type { RunningOrthanc } from './orthanc.js';

/** Orthanc's id of the instance that holds a fragment (locator `<study>/<series>/<instance>`). */
export async function orthancId(orthanc: RunningOrthanc, locator: string): Promise<string> {
  const found = (await (await fetch(`${orthanc.url}/tools/lookup`, { method: 'POST', body: locator.split('/')[2] })).json()) as Array<{ ID: string; Type: string }>;
  const id = found.find((f) => f.Type === 'Instance')?.ID;
  assert.ok(id, `Orthanc holds the instance of ${locator}`);
  return id;
}

/** Flips one bit in the middle of the fragment the instance at `locator` carries (private element 0009,1000); the UIDs stay. */
export async function changeCarriedFragment(orthanc: RunningOrthanc, locator: string): Promise<void> {
  const id = await orthancId(orthanc, locator);
  const file = Buffer.from(await (await fetch(`${orthanc.url}/instances/${id}/file`)).arrayBuffer());
  const dicom = dcmjs.data.DicomMessage.readFile(file.buffer.slice(file.byteOffset, file.byteOffset + file.length) as ArrayBuffer);
  const carried = new Uint8Array(dicom.dict['00091000'].Value[0] as ArrayBuffer);
  carried[carried.length >> 1] ^= 0x01;
  dicom.dict['00091000'] = { vr: 'OB', Value: [carried.buffer] };
  assert.equal((await fetch(`${orthanc.url}/instances/${id}`, { method: 'DELETE' })).status, 200);
  assert.equal((await stow(orthanc.dicomWebUrl, [new Uint8Array(dicom.write())])).status, 200);
}
