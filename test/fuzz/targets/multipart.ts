/**
 * Fuzz target: the STOW-RS multipart reader (RFC 2046 §5.1, RFC 2387, PS3.18 §8.6.1.2). Bodies
 * of parts with part headers (Content-Type, Content-Length, junk, huge, non-UTF-8, LF-only lines),
 * contents that contain boundary look-alikes, preambles and epilogues, then broken: missing CRLFs,
 * a wrong or missing closing delimiter, truncation, bytes flipped, all delivered in chunks cut at
 * random places; boundaries of every length and character. Invariant: the parts within the
 * limits, exactly those built when the body is well-formed; or MALFORMED_MULTIPART or
 * PAYLOAD_TOO_LARGE. (A part without any header field is refused by the parser as truncated,
 * though RFC 2046 allows it: such bodies are not counted as well-formed here.)
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { readMultipart, type RequestPart } from '../../../gateway/http/multipart.js';
import { cataloguedAsync } from '../support/catalogued.js';
import { fuzzTarget } from '../support/target.js';

const LIMITS = { maxPartBytes: 4096, maxParts: 8, maxBodyBytes: 24 * 1024 };

const boundary = fc.oneof(
  { weight: 5, arbitrary: fc.stringMatching(/^[0-9A-Za-z'()+_,./:=?-]{1,70}$/) },
  { weight: 1, arbitrary: fc.constantFrom('a', '-', '--', 'a b', ' lead', 'trail ', '\u00e9t\u00e9', 'x'.repeat(200), '\r\n', '"') },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 80 }) },
);

const headerLine = fc.oneof(
  fc.constantFrom('Content-Type: application/dicom', 'content-type: application/dicom', 'Content-Type: application/octet-stream', 'Content-Type:', 'Content-Length: 3', 'Content-Length: -1', 'Content-ID: <x>', 'X: y', ':', 'no colon', ''),
  fc.string({ maxLength: 20 }).map((v) => `Content-Type: ${v}`),
  fc.nat({ max: 20_000 }).map((n) => `X-Huge: ${'h'.repeat(n)}`),
);

/** Part content: random bytes, or text with boundary look-alikes. */
const content = (b: string) =>
  fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.constantFrom(`--${b}`, `\r\n--${b}x`, `\r\n-${b}`, `\r\n--${b.slice(0, -1)}`, '\r\n\r\n', '--').map((t) => new Uint8Array(Buffer.from(t, 'latin1'))),
    fc.nat({ max: 5000 }).map((n) => new Uint8Array(n).fill(0x44)),
  );

interface Built {
  boundary: string;
  body: Buffer;
  /** The parts a correct reader returns, when the body is well-formed. */
  expected?: Array<{ contentType: string | undefined; bytes: Buffer }>;
  cuts: number[];
}

const built: fc.Arbitrary<Built> = boundary.chain((b) =>
  fc
    .record({
      preamble: fc.constantFrom('', 'preamble\r\n', '\r\n'),
      parts: fc.array(fc.record({ headers: fc.array(headerLine, { maxLength: 3 }), content: content(b), lf: fc.boolean() }), { maxLength: 5 }),
      epilogue: fc.constantFrom('', '\r\n', 'epilogue', '\r\n--', 'x'.repeat(70_000)),
      close: fc.constantFrom(`--${b}--`, `--${b}--`, `--${b}`, `--${b}-`, `-${b}--`, ''),
      damage: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), kind: fc.constantFrom('flip', 'truncate', 'drop-crlf', 'insert-crlf') })),
      cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
    })
    .map(({ preamble, parts, epilogue, close, damage, cuts }) => {
      const pieces: Buffer[] = [Buffer.from(preamble, 'latin1')];
      for (const [i, part] of parts.entries()) {
        const eol = part.lf ? '\n' : '\r\n';
        pieces.push(Buffer.from(`${i === 0 ? '' : '\r\n'}--${b}${eol}${part.headers.map((h) => `${h}${eol}`).join('')}${eol}`, 'latin1'), Buffer.from(part.content));
      }
      pieces.push(Buffer.from(`${parts.length === 0 ? '' : '\r\n'}${close}${epilogue === '' ? '' : '\r\n'}${epilogue}`, 'latin1'));
      let body = Buffer.concat(pieces);
      if (damage) {
        const at = Math.floor(damage.at * body.length);
        if (damage.kind === 'flip' && at < body.length) body[at] ^= 0x20;
        if (damage.kind === 'truncate') body = body.subarray(0, at);
        if (damage.kind === 'drop-crlf') body = Buffer.from(body.toString('latin1').replace('\r\n', ''), 'latin1');
        if (damage.kind === 'insert-crlf') body = Buffer.concat([body.subarray(0, at), Buffer.from('\r\n'), body.subarray(at)]);
      }
      const simple = (h: string) => /^[\x20-\x7e]{0,200}$/.test(h) && !/^content-type:/i.test(h);
      const clean =
        damage === undefined &&
        close === `--${b}--` &&
        parts.length > 0 &&
        /^[0-9A-Za-z'()+_,./:=?-]+$/.test(b) &&
        parts.every((p) => !p.lf && p.headers.length > 0 && p.headers.every(simple) && !Buffer.from(p.content).includes(`--${b}`) && p.content.length <= LIMITS.maxPartBytes) &&
        parts.length <= LIMITS.maxParts &&
        epilogue.length < 1000 &&
        body.length <= LIMITS.maxBodyBytes;
      const expected = clean ? parts.map((p) => ({ contentType: undefined, bytes: Buffer.from(p.content) })) : undefined;
      return { boundary: b, body, expected, cuts: cuts.map((c) => Math.floor(c * body.length)).sort((x, y) => x - y) };
    }),
);

function request(body: Buffer, cuts: number[]): IncomingMessage {
  const chunks: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts, body.length]) {
    if (cut > from) chunks.push(body.subarray(from, cut));
    from = Math.max(from, cut);
  }
  return Readable.from(chunks, { objectMode: false }) as unknown as IncomingMessage;
}

export const target = fuzzTarget({
  arbitrary: built,
  async check({ boundary, body, expected, cuts }) {
    const parts = await cataloguedAsync(['MALFORMED_MULTIPART', 'PAYLOAD_TOO_LARGE'], async () => {
      const out: RequestPart[] = [];
      for await (const part of readMultipart(request(body, cuts), boundary, LIMITS)) out.push(part);
      return out;
    });
    if (parts !== undefined) {
      assert.ok(parts.length <= LIMITS.maxParts);
      for (const part of parts) assert.ok(part.bytes.length <= LIMITS.maxPartBytes);
    }
    if (expected !== undefined) {
      assert.ok(parts !== undefined, 'a well-formed body was refused');
      assert.deepEqual(
        parts.map((p) => p.bytes),
        expected.map((p) => p.bytes),
      );
    }
  },
});
