/**
 * The `limits` section of the configuration: the bounds on every body, part, query, scan,
 * transcoding and rate that keep one request from taking the gateway's memory or time.
 */
import { z } from 'zod';

const MiB = 1024 * 1024;

/** The bounds on requests; every one has a default. */
export const Limits = z
  .strictObject({
    /** Largest STOW-RS request body. */
    maxBodyBytes: z
      .number()
      .int()
      .positive()
      .default(4096 * MiB),
    /** Largest single part (instance) of a STOW-RS request. */
    maxPartBytes: z
      .number()
      .int()
      .positive()
      .default(1024 * MiB),
    /**
     * Largest size a deflated data set (Deflated Explicit VR Little Endian) of a STOW-RS part may
     * inflate to: a decompression bomb is refused on its own (FailureReason 0xA700).
     */
    maxInflatedBytes: z
      .number()
      .int()
      .positive()
      .default(64 * MiB),
    /** Most parts in one STOW-RS request. */
    maxParts: z.number().int().positive().default(10_000),
    /** Longest query string (bytes) of any request. */
    maxQueryLength: z.number().int().positive().default(4096),
    /** Largest QIDO-RS `limit`; also the default when a query has none. */
    maxQidoResults: z.number().int().positive().default(1000),
    /** Most instances one QIDO-RS search may read to match attributes the catalog has no column for (results past it are cut, with a Warning). */
    maxQidoScan: z.number().int().positive().default(10_000),
    /**
     * Slowest average rate (bytes per second) of a request body once bodyRateGraceSeconds have
     * passed: a slower body gets 408 and its connection is closed. Time the gateway itself does
     * not read (it is busy with earlier parts) does not count.
     */
    minBodyBytesPerSecond: z
      .number()
      .int()
      .positive()
      .default(10 * 1024),
    /** Seconds a body may take before its rate is checked. */
    bodyRateGraceSeconds: z.number().positive().max(3600).default(10),
    /** Connections one client address may hold open in each worker process (trusted proxies are exempt); the excess is refused at once with 429. */
    maxConnectionsPerClient: z.number().int().positive().default(32),
    /** Largest decoded pixel data Aegis makes for one transcoded instance (or one request's frames), default 512 MiB; more: 406. */
    maxTranscodeBytes: z.number().int().positive().default(536_870_912),
    /** Longest time decoding one transcoded instance (or one request's frames) may take; longer: 406. */
    transcodeSeconds: z.number().positive().max(3600).default(60),
    /** Rendered images (and thumbnails) waiting in each worker process for one of its two rendering places; the excess is refused at once with 503 and Retry-After. */
    maxWaitingRenders: z.number().int().nonnegative().max(1000).default(16),
  })
  .prefault({});
