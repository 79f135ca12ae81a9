/**
 * Safe header text: the one way text that may carry request or file content (a reason naming a
 * UID read from an instance, a URL built from the Host header and catalog UIDs) becomes part of a
 * response header or of a multipart part's header. Field values are visible ASCII and spaces only
 * (RFC 9110 §5.5; Node refuses control characters with ERR_INVALID_CHAR, which answered 500, and a
 * CR or LF would end the header): every other character is percent-encoded as UTF-8 (RFC 3986
 * §2.1), and every value is bounded in length. Free text goes in a quoted-string (RFC 9110 §5.6.4)
 * with `"` and `\` as quoted-pairs, and `%` percent-encoded too so that the text decodes back
 * exactly; URIs keep their own `%`.
 */

/** Longest quoted text, in characters of the result (without the quotes). */
const MAX_TEXT = 512;
/** Longest header value (URIs, media types), in characters. */
const MAX_VALUE = 2048;
const MARK = '...';

/**
 * `text` encoded character by character with `encode`; when the result would exceed `max`
 * characters it is cut between characters and ends in `...` (still at most `max`).
 */
function encodeBounded(text: string, max: number, encode: (char: string) => string): string {
  let out = '';
  let keep = 0; // how much of `out` stays when the mark must follow
  for (const char of text) {
    const piece = encode(char);
    if (out.length + piece.length > max) return out.slice(0, keep) + MARK;
    out += piece;
    if (out.length <= max - MARK.length) keep = out.length;
  }
  return out;
}

/** A character outside visible ASCII and space as its UTF-8 bytes percent-encoded (a lone surrogate as U+FFFD). */
function percentEncoded(char: string): string {
  return encodeURIComponent(/[\uD800-\uDFFF]/u.test(char) ? '\uFFFD' : char);
}

const VISIBLE = /^[\x20-\x7e]$/;

/**
 * A header field value (a URI, a media type) safe to send: characters outside visible ASCII and
 * space percent-encoded, `%` kept, at most `max` characters.
 */
export function headerValue(value: string, max = MAX_VALUE): string {
  return encodeBounded(value, max, (char) => (VISIBLE.test(char) ? char : percentEncoded(char)));
}

/**
 * Free text as a quoted-string (RFC 9110 §5.6.4): `"` and `\` as quoted-pairs, `%` and characters
 * outside visible ASCII and space percent-encoded; the text inside the quotes is at most `max`
 * characters, ending in `...` when cut.
 */
export function quotedString(text: string, max = MAX_TEXT): string {
  return `"${encodeBounded(text, max, (char) => (char === '"' || char === '\\' ? `\\${char}` : char === '%' || !VISIBLE.test(char) ? percentEncoded(char) : char))}"`;
}

/** A `Warning` header value (RFC 7234 §5.5, as PS3.18 uses it): code 299, agent `aegis`, the text quoted. */
export function warningValue(text: string): string {
  return `299 aegis ${quotedString(text)}`;
}
