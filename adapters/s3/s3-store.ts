/**
 * The `s3` backend: fragments are objects in one bucket of an S3-compatible store (AWS S3, MinIO,
 * Ceph RGW, s3rver), under `<prefix><key>`; the key is also the locator. Byte arrays go up in one
 * PutObject, streamed bodies through `@aws-sdk/lib-storage`'s Upload (multipart above the part
 * size, parts dropped when it fails). S3 replaces an object atomically, so a reader sees the old or
 * the new bytes, never a mix, and an upload that fails or is aborted leaves the old object.
 *
 * Checksums: the SDK's default ("when supported") frames a streamed body as `aws-chunked` with a
 * trailing checksum, and stores that S3 clones do not understand keep the framing inside the object.
 * The client is made with `requestChecksumCalculation` and `responseChecksumValidation` set to
 * WHEN_REQUIRED: the bytes stored are the bytes sent. (The gateway verifies every fragment against
 * its own SHA-256 anyway.)
 *
 * Errors are translated here, the SDK's error as cause: no such key or bucket entry 404 ->
 * NOT_FOUND; a refused, reset or unresolvable connection, a 5xx, a refused credential or a missing
 * bucket -> BACKEND_UNAVAILABLE; a socket timeout -> BACKEND_TIMEOUT. Every call is bounded by the
 * configured timeout and the caller's signal (`withDeadline`), which aborts the SDK's request.
 *
 * Credentials are passed in by whoever opens the store; this module never looks for them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout } from 'node:timers/promises';
import { DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { bodyLength, checkFragmentKey, clampRange, exactly, FRAGMENT_KEY_PATTERN, FragmentStoreError, type ByteRange, type CallOptions, type FragmentBody, type FragmentRef, type FragmentStore, type ReadOptions } from '../fragment-store.js';
import { S3_CAPABILITIES } from '../capabilities.js';
import { checkRead, StoreCalls } from '../store-calls.js';

export { S3_CAPABILITIES };

/** How often `get` asks again when a body breaks off mid-transfer or is torn by a concurrent overwrite. */
const READ_ATTEMPTS = 8;
/** The pause before asking again grows by this much each time (overwrites in progress get time to finish). */
const READ_BACKOFF_MS = 25;
/** Streamed bodies are uploaded in parts of this size (the S3 minimum is 5 MiB). */
const DEFAULT_PART_BYTES = 8 * 1024 * 1024;

/** Static credentials of an S3 access key. */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Options of an {@link S3FragmentStore}, as in the `backends` configuration plus the credentials. */
export interface S3FragmentStoreOptions {
  /** The backend's name from the configuration. */
  name: string;
  /** The service URL of an S3-compatible store; absent: AWS S3 of `region`. */
  endpoint?: string;
  region: string;
  bucket: string;
  /** Put before every key: empty, or segments ending with `/` (`aegis/`). */
  prefix?: string;
  /** `http://host/bucket/key` instead of `http://bucket.host/key` (most S3 clones need it). */
  forcePathStyle?: boolean;
  credentials: S3Credentials;
  /** Longest a call may take; default 30 s. */
  timeoutMs?: number;
  /** Part size of multipart uploads of streamed bodies; default 8 MiB. */
  partBytes?: number;
}

/** A {@link FragmentStore} keeping every fragment as one object of an S3 bucket. */
export class S3FragmentStore implements FragmentStore {
  readonly name: string;
  readonly kind = 's3';
  readonly capabilities = S3_CAPABILITIES;
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly calls: StoreCalls;
  private readonly partBytes: number;

  constructor(options: S3FragmentStoreOptions) {
    this.name = options.name;
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? '';
    if (this.prefix !== '' && !/^(?:[A-Za-z0-9._-]+\/)+$/.test(this.prefix)) {
      throw new FragmentStoreError('BAD_REQUEST', `s3 backend ${this.name}: prefix ${JSON.stringify(this.prefix)} is not segments of [A-Za-z0-9._-] ending with /`);
    }
    this.calls = new StoreCalls({ store: this.name, kind: this.kind, timeoutMs: options.timeoutMs, translate: s3Error });
    this.partBytes = Math.max(options.partBytes ?? DEFAULT_PART_BYTES, 5 * 1024 * 1024);
    this.client = new S3Client({
      endpoint: options.endpoint,
      region: options.region,
      forcePathStyle: options.forcePathStyle ?? false,
      credentials: { ...options.credentials },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  async put(key: string, data: FragmentBody, options?: CallOptions): Promise<FragmentRef> {
    checkFragmentKey(key);
    const length = bodyLength(data);
    const Key = this.prefix + key;
    await this.calls.run(`put ${key}`, options, async (abortSignal) => {
      if (data instanceof Uint8Array) {
        await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: data, ContentLength: length }), { abortSignal });
        return;
      }
      const source = Readable.from(exactly(data, abortSignal), { objectMode: false });
      const upload = new Upload({
        client: this.client,
        params: { Bucket: this.bucket, Key, Body: source },
        partSize: this.partBytes,
        queueSize: 2,
        leavePartsOnError: false,
      });
      const abort = () => {
        source.destroy();
        void upload.abort().catch(() => undefined);
      };
      abortSignal.addEventListener('abort', abort, { once: true });
      try {
        await upload.done();
      } finally {
        abortSignal.removeEventListener('abort', abort);
      }
    });
    return { locator: key, length };
  }

  async get(locator: string, options?: ReadOptions): Promise<Buffer> {
    checkRead(locator, options);
    return this.calls.run(`get ${locator}`, options, async (abortSignal) => {
      for (let attempt = 1; ; attempt++) {
        const opened = await this.open(locator, options?.range, abortSignal);
        if (opened === undefined) return Buffer.alloc(0);
        let bytes: Buffer;
        try {
          bytes = Buffer.from(await opened.body.transformToByteArray());
        } catch (error) {
          // The body broke off (a dropped connection, or a store that does not replace objects
          // atomically and changed it under us): ask again, a few times.
          if (abortSignal.aborted || attempt >= READ_ATTEMPTS) throw error;
          continue;
        }
        // A whole plain object's ETag is the MD5 of its bytes: a read that does not match it was
        // torn by a concurrent overwrite on a store that writes in place (s3rver does). Read again;
        // if it never matches (a store whose ETag is no MD5), the gateway's own hashes decide.
        if (opened.md5 === undefined || attempt >= READ_ATTEMPTS || createHash('md5').update(bytes).digest('hex') === opened.md5) return bytes;
        await setTimeout(READ_BACKOFF_MS * attempt, undefined, { signal: abortSignal });
      }
    });
  }

  async stream(locator: string, options?: ReadOptions): Promise<Readable> {
    checkRead(locator, options);
    const body = await this.calls.run(`stream ${locator}`, options, async (abortSignal) => {
      const opened = (await this.open(locator, options?.range, abortSignal))?.body;
      if (abortSignal.aborted) opened?.destroy();
      return opened;
    });
    if (body === undefined) return Readable.from([]);
    const stream = body as unknown as Readable;
    const caller = options?.signal;
    if (caller !== undefined) {
      const onAbort = () => stream.destroy(caller.reason as Error);
      caller.addEventListener('abort', onAbort, { once: true });
      stream.once('close', () => caller.removeEventListener('abort', onAbort));
    }
    return stream;
  }

  async delete(locator: string, options?: CallOptions): Promise<boolean> {
    checkFragmentKey(locator);
    return this.calls.run(`delete ${locator}`, options, async (abortSignal) => {
      // S3 answers a delete of a missing key with success: ask first, to say whether there was one.
      if (!(await this.exists(locator, abortSignal))) return false;
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + locator }), { abortSignal });
      return true;
    });
  }

  async has(locator: string, options?: CallOptions): Promise<boolean> {
    checkFragmentKey(locator);
    return this.calls.run(`has ${locator}`, options, (abortSignal) => this.exists(locator, abortSignal));
  }

  async *list(prefix = '', options?: CallOptions): AsyncIterable<string> {
    let token: string | undefined;
    do {
      const page = await this.calls.run('list', options, (abortSignal) => this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ContinuationToken: token }), { abortSignal }));
      // S3 lists in UTF-8 byte order, which is code-unit order for the ASCII of keys.
      for (const object of page.Contents ?? []) {
        const key = object.Key?.slice(this.prefix.length);
        if (key !== undefined && FRAGMENT_KEY_PATTERN.test(key)) yield key;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async check(options?: CallOptions): Promise<void> {
    await this.calls.run('check', options, async (abortSignal) => {
      try {
        await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal });
      } catch (error) {
        // HEAD has no body, so a missing bucket is a bare 404 (NotFound), not NoSuchBucket.
        if (statusOf(error) === 404) throw new FragmentStoreError('BACKEND_UNAVAILABLE', `s3 backend ${this.name}: bucket ${this.bucket} does not exist`, { cause: error });
        throw error;
      }
      // `~` is outside the key alphabet: the probe is never taken for a fragment, nor listed.
      const Key = `${this.prefix}~probe-${randomBytes(6).toString('hex')}`;
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: 'probe' }), { abortSignal });
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }), { abortSignal });
    });
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /**
   * The body of an object, or of the part of it in `range`, with the MD5 its ETag says a whole
   * plain object has; undefined when that part is empty (the object exists). S3 cannot ask for an empty range and refuses one that starts past the end
   * (416), so those ask whether the object exists instead.
   */
  private async open(locator: string, range: ByteRange | undefined, abortSignal: AbortSignal): Promise<{ body: Readable & { transformToByteArray(): Promise<Uint8Array> }; md5?: string } | undefined> {
    const Key = this.prefix + locator;
    if (range !== undefined && range.end === range.start) {
      if (await this.exists(locator, abortSignal)) return undefined;
      throw new FragmentStoreError('NOT_FOUND', `no fragment ${locator}`);
    }
    let answer;
    try {
      answer = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key, Range: range === undefined ? undefined : `bytes=${range.start}-${range.end - 1}` }), { abortSignal });
    } catch (error) {
      if (statusOf(error) !== 416 || range === undefined) throw error;
      // The range starts at or past the end: like HTTP, nothing of it exists, but the object does.
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }), { abortSignal });
      const { start, end } = clampRange(range, head.ContentLength ?? 0);
      if (start !== end) throw error;
      return undefined;
    }
    const body = answer.Body as (Readable & { transformToByteArray(): Promise<Uint8Array> }) | undefined;
    if (body === undefined) throw new FragmentStoreError('BACKEND_UNAVAILABLE', `s3 backend ${this.name}: no body for ${locator}`);
    if (range === undefined) {
      // Not for multipart ETags (`-n`) nor objects encrypted with KMS or a customer key, whose ETag is no MD5.
      const plain = answer.ServerSideEncryption === undefined || answer.ServerSideEncryption === 'AES256';
      const etag = /^"?([0-9a-f]{32})"?$/.exec(answer.ETag ?? '');
      return { body, md5: plain && answer.SSECustomerAlgorithm === undefined && etag ? etag[1] : undefined };
    }
    // Some S3 clones answer a range with more than was asked (s3rver: `bytes=0-0` gives the whole
    // object) or, for an empty object, a 206 of `bytes 0-0/0`: what they sent is cut to the range.
    const sent = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(answer.ContentRange ?? '');
    const total = sent === null ? undefined : Number(sent[3]);
    const want = clampRange(range, total ?? Number.MAX_SAFE_INTEGER);
    if (sent !== null && Number(sent[1]) === want.start && Number(sent[2]) === want.end - 1) return { body };
    body.destroy();
    if (total === 0 || want.start === want.end) return undefined;
    const whole = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }), { abortSignal });
    const bytes = Buffer.from(await whole.Body!.transformToByteArray()).subarray(want.start, want.end);
    return { body: Object.assign(Readable.from([bytes]), { transformToByteArray: async () => bytes }) };
  }

  /** True when the object exists (HeadObject), false on 404. */
  private async exists(locator: string, abortSignal: AbortSignal): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + locator }), { abortSignal });
      return true;
    } catch (error) {
      if (statusOf(error) === 404 && !isMissingBucket(error)) return false;
      throw error;
    }
  }
}

/** The {@link FragmentStoreError} of an SDK error, the SDK's error as cause. */
export function s3Error(error: unknown, context: string): FragmentStoreError {
  if (error instanceof FragmentStoreError) return error;
  const name = (error as { name?: string })?.name ?? '';
  const code = (error as { code?: string })?.code ?? '';
  const status = statusOf(error);
  const message = `${context}: ${name || code || 'error'}${error instanceof Error && error.message ? ` (${error.message})` : ''}`;
  if (isMissingBucket(error)) return new FragmentStoreError('BACKEND_UNAVAILABLE', message, { cause: error });
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) return new FragmentStoreError('NOT_FOUND', message, { cause: error });
  if (name === 'TimeoutError' || code === 'ETIMEDOUT' || name === 'RequestTimeout') return new FragmentStoreError('BACKEND_TIMEOUT', message, { cause: error });
  // A refused or broken connection, a 5xx, a refused credential, anything else the store answered.
  return new FragmentStoreError('BACKEND_UNAVAILABLE', message, { cause: error });
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function isMissingBucket(error: unknown): boolean {
  return (error as { name?: string })?.name === 'NoSuchBucket';
}
