/**
 * Reading multipart/related request bodies: a part whose header block is empty (the blank line
 * right after its boundary) is refused for what it is, a part without Content-Type, not reported
 * as a truncated body; a well-formed body reads part by part.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { GatewayError } from '../../../gateway/errors.js';
import { readMultipart, type RequestPart } from '../../../gateway/http/multipart.js';

const LIMITS = { maxPartBytes: 1024, maxParts: 10, maxBodyBytes: 4096 };

/** Reads `chunks` as a request body with boundary `b`. */
async function read(chunks: string[]): Promise<RequestPart[]> {
  const req = Readable.from(chunks.map((chunk) => Buffer.from(chunk, 'latin1'))) as unknown as IncomingMessage;
  const parts: RequestPart[] = [];
  for await (const part of readMultipart(req, 'b', LIMITS)) parts.push(part);
  return parts;
}

describe('readMultipart', () => {
  it('reads the parts of a well-formed body', async () => {
    const parts = await read(['--b\r\nContent-Type: application/dicom\r\n\r\nhello\r\n--b--\r\n']);
    assert.deepEqual(
      parts.map((part) => [part.contentType, part.bytes.toString()]),
      [['application/dicom', 'hello']],
    );
  });

  for (const [name, chunks] of [
    ['the only part', ['--b\r\n\r\nhello\r\n--b--\r\n']],
    ['a second part, its boundary split across chunks', ['--b\r\nContent-Type: application/dicom\r\n\r\nhello\r\n--', 'b\r', '\n\r\nworld\r\n--b--\r\n']],
  ] as const) {
    it(`refuses a part with no header fields at all (${name}): MALFORMED_MULTIPART saying it has no Content-Type`, async () => {
      await assert.rejects(read([...chunks]), (error: unknown) => {
        assert.ok(error instanceof GatewayError);
        assert.equal(error.code, 'MALFORMED_MULTIPART');
        assert.equal(error.message, 'a part has no header fields (no Content-Type): a blank line follows its boundary');
        return true;
      });
    });
  }
});
