/**
 * Rewrites the upstream PACS's own URLs in DICOM JSON it returns (RetrieveURL, BulkDataURI,
 * RetrieveURI of PS3.18 §F.2) to the gateway's, as a stream: a client of Aegis follows them back
 * through Aegis, under its authentication, policy and audit, never straight to the upstream. Only
 * the last `from.length - 1` characters are held between chunks (a URL cut across two), so memory
 * stays bounded whatever the size of the answer.
 */
import { Transform } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

/** A transform replacing every `"from` (a JSON string starting with the upstream root) by `"to`. */
export function rewriteUrls(from: string, to: string): Transform {
  const needle = `"${from}`;
  const replacement = `"${to}`;
  const decoder = new StringDecoder('utf8');
  let carry = '';
  const flush = (text: string, final: boolean): string => {
    const replaced = text.replaceAll(needle, replacement);
    if (final) return replaced;
    // Hold back a tail that could be the start of a needle cut by the chunk boundary.
    let keep = 0;
    for (let n = Math.min(needle.length - 1, replaced.length); n > 0; n--) {
      if (needle.startsWith(replaced.slice(replaced.length - n))) {
        keep = n;
        break;
      }
    }
    carry = replaced.slice(replaced.length - keep);
    return replaced.slice(0, replaced.length - keep);
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const text = carry + decoder.write(chunk);
      carry = '';
      done(null, Buffer.from(flush(text, false), 'utf8'));
    },
    flush(done) {
      done(null, Buffer.from(flush(carry + decoder.end(), true), 'utf8'));
    },
  });
}
