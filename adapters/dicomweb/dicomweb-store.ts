/**
 * The `dicomweb` backend: an existing PACS as a fragment store. A PACS stores DICOM, so each
 * fragment travels inside a DICOM instance (`fragment-instance.ts`): the plain container the
 * adapter makes, or the presentation instance the caller hands to `put` (then the PACS indexes and
 * shows that instance, and the fragment rides in its private block). The instance goes up with
 * STOW-RS and comes back with WADO-RS `transfer-syntax=*`, exactly as stored
 * (`dicomweb-client.ts`); the locator is `<study UID>/<series UID>/<SOP instance UID>`.
 *
 * UIDs of a plain container are derived ({@link derivedUid}) from the backend's `uidSalt`, the key
 * and, for the instance, the SHA-256 of the fragment: a put of the same bytes under the same key is
 * idempotent (same instance, same locator), other bytes under the same key are another instance.
 *
 * What a PACS cannot promise, declared in {@link DICOMWEB_CAPABILITIES}:
 * - no overwrite: a PACS keeps the first instance of a SOP Instance UID (Orthanc unless
 *   `OverwriteInstances`), so other bytes are another instance with its own locator;
 * - no listing by key: a key names nothing in the PACS;
 * - no ranged read: a WADO-RS instance comes whole, and the range is cut from it;
 * - delete is best-effort: Orthanc's REST API removes the instance, but a hospital PACS forwards,
 *   archives and backs up what it receives; only the encryption of the fragment protects it then.
 *
 * A read checks that the instance is filed under the UIDs of its locator and carries an intact
 * fragment block; one that does not (deleted, or replaced behind the gateway's back by an instance
 * without the block) is NOT_FOUND. Bytes changed inside the block are the gateway's to detect: it
 * verifies every fragment against the SHA-256 its manifest records.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { bodyLength, checkFragmentKey, clampRange, exactly, FragmentStoreError, type CallOptions, type FragmentBody, type FragmentRef, type FragmentStore, type PutOptions, type ReadOptions } from '../fragment-store.js';
import { DICOMWEB_CAPABILITIES } from '../capabilities.js';
import { checkRead, StoreCalls, type StoreOptions } from '../store-calls.js';
import { DicomwebClient } from './dicomweb-client.js';
import { derivedUid, fragmentContainer, fragmentOf, isUid, presentationWithFragment, type InstanceUids } from './fragment-instance.js';

export { DICOMWEB_CAPABILITIES };

/** Options of a {@link DicomwebFragmentStore}, as in the `backends` configuration plus the resolved credentials. */
export interface DicomwebFragmentStoreOptions extends StoreOptions {
  /** The DICOMweb root, e.g. `http://pacs:8042/dicom-web`. */
  url: string;
  /** Orthanc's REST root for deletes (`POST /tools/lookup`, `DELETE /instances/{id}`); absent: DICOMweb DELETE. */
  orthancUrl?: string;
  /** Mixed into every derived UID, so that two backends never share one; not a secret. */
  uidSalt: string;
  /** The `Authorization` header of every request (e.g. `Basic ...`, `Bearer ...`), when the server wants one. */
  authorization?: string;
}

/** A {@link FragmentStore} keeping every fragment inside one DICOM instance of a DICOMweb server. */
export class DicomwebFragmentStore implements FragmentStore {
  readonly name: string;
  readonly kind = 'dicomweb';
  readonly capabilities = DICOMWEB_CAPABILITIES;
  private readonly client: DicomwebClient;
  private readonly calls: StoreCalls;
  private readonly uidSalt: string;

  constructor(options: DicomwebFragmentStoreOptions) {
    this.name = options.name;
    if (typeof options.uidSalt !== 'string' || options.uidSalt === '') throw new FragmentStoreError('BAD_REQUEST', `dicomweb backend ${this.name}: no uidSalt`);
    this.uidSalt = options.uidSalt;
    this.client = new DicomwebClient(options);
    this.calls = new StoreCalls({ store: this.name, kind: this.kind, timeoutMs: options.timeoutMs, translate: dicomwebError });
  }

  async put(key: string, data: FragmentBody, options?: PutOptions): Promise<FragmentRef> {
    checkFragmentKey(key);
    const length = bodyLength(data);
    return this.calls.run(`put ${key}`, options, async (signal) => {
      const fragment = data instanceof Uint8Array ? data : await whole(exactly(data, signal));
      const { bytes, uids } = this.instanceOf(key, fragment, options?.presentation);
      await this.client.store(bytes, uids, signal);
      return { locator: locatorOf(uids), length };
    });
  }

  async get(locator: string, options?: ReadOptions): Promise<Buffer> {
    checkRead(locator, options, checkLocator);
    return this.calls.run(`get ${locator}`, options, (signal) => this.fragment(locator, options?.range, signal));
  }

  async stream(locator: string, options?: ReadOptions): Promise<Readable> {
    checkRead(locator, options, checkLocator);
    const bytes = await this.calls.run(`stream ${locator}`, options, (signal) => this.fragment(locator, options?.range, signal));
    return Readable.from(bytes.length === 0 ? [] : [bytes]);
  }

  async delete(locator: string, options?: CallOptions): Promise<boolean> {
    checkLocator(locator);
    return this.calls.run(`delete ${locator}`, options, (signal) => this.client.remove(uidsOf(locator), signal));
  }

  async has(locator: string, options?: CallOptions): Promise<boolean> {
    checkLocator(locator);
    return this.calls.run(`has ${locator}`, options, (signal) => this.client.exists(uidsOf(locator), signal));
  }

  // eslint-disable-next-line require-yield -- an iteration that fails at once
  async *list(): AsyncIterable<string> {
    throw new FragmentStoreError('UNSUPPORTED', `dicomweb backend ${this.name}: a PACS files instances under UIDs, not keys, so its fragments cannot be listed by key`);
  }

  /** Resolves when the server answers a search (a probe instance would stay in the PACS for everyone to see). */
  async check(options?: CallOptions): Promise<void> {
    await this.calls.run('check', options, (signal) => this.client.ping(signal));
  }

  async close(): Promise<void> {
    // fetch's pool closes idle sockets itself.
  }

  /** The instance that carries `fragment` under `key`: the presentation given, or a plain container. */
  private instanceOf(key: string, fragment: Uint8Array, presentation: Uint8Array | undefined): { bytes: Uint8Array; uids: InstanceUids } {
    if (presentation !== undefined) {
      try {
        return presentationWithFragment(presentation, fragment);
      } catch (error) {
        throw new FragmentStoreError('BAD_REQUEST', `dicomweb backend ${this.name}: put ${key}: ${(error as Error).message}`, { cause: error });
      }
    }
    const sha256 = createHash('sha256').update(fragment).digest('hex');
    const uids = { study: derivedUid(this.uidSalt, 'study', key), series: derivedUid(this.uidSalt, 'series', key), instance: derivedUid(this.uidSalt, 'instance', key, sha256) };
    return { bytes: fragmentContainer(fragment, uids), uids };
  }

  /** The fragment at `locator`, or the part of it in `range`. */
  private async fragment(locator: string, range: ReadOptions['range'], signal: AbortSignal): Promise<Buffer> {
    const uids = uidsOf(locator);
    const fragment = fragmentOf(await this.client.retrieve(uids, signal), uids);
    if (fragment === undefined) throw new FragmentStoreError('NOT_FOUND', `dicomweb backend ${this.name}: the instance at ${locator} carries no intact fragment`);
    const { start, end } = clampRange(range, fragment.length);
    return fragment.subarray(start, end);
  }
}

/** The chunks of a streamed body as one buffer (an instance is written whole). */
async function whole(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

/** The locator of an instance: its three UIDs. */
function locatorOf(uids: InstanceUids): string {
  return `${uids.study}/${uids.series}/${uids.instance}`;
}

function uidsOf(locator: string): InstanceUids {
  const [study, series, instance] = locator.split('/');
  return { study, series, instance };
}

/** BAD_REQUEST unless `locator` is three valid UIDs joined by `/`. */
function checkLocator(locator: string): void {
  const parts = typeof locator === 'string' ? locator.split('/') : [];
  if (parts.length !== 3 || !parts.every(isUid)) {
    throw new FragmentStoreError('BAD_REQUEST', `invalid DICOMweb locator ${JSON.stringify(String(locator).slice(0, 80))}`);
  }
}

/** The {@link FragmentStoreError} of a fetch error, the error as cause. */
export function dicomwebError(error: unknown, context: string): FragmentStoreError {
  if (error instanceof FragmentStoreError) return new FragmentStoreError(error.code, `${context}: ${error.message}`, { cause: error.cause ?? error });
  const cause = (error as { cause?: { code?: string } })?.cause;
  const detail = cause?.code ?? (error as Error)?.message ?? String(error);
  if ((error as Error)?.name === 'TimeoutError') return new FragmentStoreError('BACKEND_TIMEOUT', `${context}: ${detail}`, { cause: error });
  // A refused or broken connection, an answer that is no DICOMweb.
  return new FragmentStoreError('BACKEND_UNAVAILABLE', `${context}: ${detail}`, { cause: error });
}
