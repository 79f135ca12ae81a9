/**
 * `aegis receipt verify FILE`: checks STOW receipts offline. FILE holds one receipt (a compact JWS)
 * or a whole STOW-RS response (DICOM JSON), whose receipts are all checked. The public keys come
 * from `--keys FILE`, a JWK set saved from the gateway's `/.well-known/aegis-receipt-keys` (what a
 * hospital keeps to check receipts without the gateway), or else from the master keys of the data
 * directory (on the gateway's host). `--instance DICOM` also checks that a file is the instance
 * the receipt speaks of (its SHA-256 and length). Exit codes: 0 every receipt verifies, 1 one does
 * not (or the file has none), 2 usage.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { JSONWebKeySet } from 'jose';
import { CommandError, parseCommandLine, processIo, runCommand, subCommandOf, UsageError, type CommandIo } from './command.js';
import { loadConfig } from '../config.js';
import { isGatewayError } from '../errors.js';
import { Keyring } from '../keys/keyring.js';
import { receiptKeySet, verifyReceipt, type Receipt } from '../services/receipts.js';
import { RECEIPT_TAG } from '../services/stow-outcomes.js';

/** Usage of `aegis receipt`. */
export const RECEIPT_USAGE = `usage: aegis receipt verify FILE [--keys JWKS_FILE] [--instance DICOM_FILE] [--json] [--config FILE] [--data DIR]

Verifies STOW receipts offline. FILE holds a receipt (compact JWS) or a STOW-RS response (DICOM
JSON) with receipts in its ReferencedSOPSequence items. --keys: the JWK set published at
/.well-known/aegis-receipt-keys (default: the master keys of the data directory). --instance: also
check that this file is the stored instance (SHA-256 and length).
`;

/** Runs `aegis receipt`; resolves to the exit code. */
export async function receiptCommand(argv: string[], io: CommandIo = processIo()): Promise<number> {
  return runCommand('receipt', io, async () => {
    const { values, positionals } = parseCommandLine(argv, { keys: { type: 'string' }, instance: { type: 'string' }, json: { type: 'boolean' } });
    if (values.help) {
      io.stdout.write(RECEIPT_USAGE);
      return 0;
    }
    const file = positionals[2];
    subCommandOf(positionals.slice(0, 2), ['verify']);
    if (file === undefined) throw new UsageError('which receipt file?');
    if (positionals.length > 3) throw new UsageError(`unexpected argument '${positionals[3]}'`);
    const receipts = receiptsIn(await readFile(file, 'utf8'));
    if (receipts.length === 0) throw new CommandError(`${file} holds no receipt`);
    const keys = values.keys !== undefined ? await keySetFile(values.keys) : await receiptKeySet(await Keyring.load({ dataDir: loadConfig({ file: values.config, env: io.env, flags: { dataDir: values.data } }).dataDir, env: io.env }));
    const instance = values.instance === undefined ? undefined : await readFile(values.instance);
    const results = [];
    for (const jws of receipts) results.push(await checked(jws, keys, instance));
    if (values.json) io.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    else for (const r of results) io.stdout.write(r.valid ? `valid: ${r.receipt!.sopInstanceUid} sha256 ${r.receipt!.sha256} (${r.receipt!.length} bytes) stored ${r.receipt!.storedAt} by ${r.receipt!.iss}\n` : `INVALID: ${r.reason}\n`);
    return results.every((r) => r.valid) ? 0 : 1;
  });
}

/** One receipt checked: valid with what it states, or why not. */
async function checked(jws: string, keys: JSONWebKeySet, instance: Buffer | undefined): Promise<{ valid: boolean; receipt?: Receipt; reason?: string }> {
  try {
    const { receipt } = await verifyReceipt(jws, keys);
    if (instance !== undefined && (instance.length !== receipt.length || createHash('sha256').update(instance).digest('hex') !== receipt.sha256)) {
      return { valid: false, receipt, reason: `the instance file is not what the receipt for ${receipt.sopInstanceUid} states (SHA-256 ${receipt.sha256}, ${receipt.length} bytes)` };
    }
    return { valid: true, receipt };
  } catch (error) {
    if (!isGatewayError(error, 'RECEIPT_INVALID')) throw error;
    return { valid: false, reason: error.message };
  }
}

/** The receipts of a file: the JWS it holds, or those of a STOW-RS response. */
function receiptsIn(text: string): string[] {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) return [trimmed];
  let json: unknown;
  try {
    json = JSON.parse(trimmed);
  } catch {
    throw new CommandError('the file is neither a receipt nor JSON');
  }
  const responses = Array.isArray(json) ? json : [json];
  const items = responses.flatMap((r) => ((r as Record<string, { Value?: unknown[] }>)?.['00081199']?.Value ?? []) as Array<Record<string, { Value?: unknown[] }>>);
  return items.map((item) => item[RECEIPT_TAG]?.Value?.[0]).filter((v): v is string => typeof v === 'string');
}

async function keySetFile(path: string): Promise<JSONWebKeySet> {
  let keys: JSONWebKeySet;
  try {
    keys = JSON.parse(await readFile(path, 'utf8')) as JSONWebKeySet;
  } catch (error) {
    throw new CommandError(`cannot read the JWK set ${path}: ${(error as Error).message}`);
  }
  if (!Array.isArray(keys?.keys)) throw new CommandError(`${path} is not a JWK set ({ "keys": [...] })`);
  return keys;
}
