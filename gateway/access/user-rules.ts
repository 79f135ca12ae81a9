/**
 * The rules for local users: what a user name, a role, a subject
 * attribute and a password may be. Pure functions; every problem of an input is reported at once.
 *
 * Roles are free text with the lexical rule of user names: the policy file gives them meaning.
 * One role is built in: {@link ADMIN_ROLE} may do everything.
 */

/** User names: a lower-case letter, then up to 63 lower-case letters, digits, `.`, `_` or `-`. */
export const USER_NAME_PATTERN = /^[a-z][a-z0-9._-]{0,63}$/;

/** Role names follow the rule of user names. */
export const ROLE_PATTERN = USER_NAME_PATTERN;

/** Attribute keys: a lower-case letter, then letters, digits, `_` or `-` (at most 64 characters). */
export const ATTRIBUTE_KEY_PATTERN = /^[a-z][a-zA-Z0-9_-]{0,63}$/;

/** The built-in role that may do everything. */
export const ADMIN_ROLE = 'admin';

/** Attribute keys a user cannot set: the policy reads them from the user's own columns. */
export const RESERVED_ATTRIBUTE_KEYS: readonly string[] = ['name', 'role'];

/** Most attributes one user may carry. */
export const MAX_ATTRIBUTES = 64;

/** Longest attribute value, in characters. */
export const MAX_ATTRIBUTE_VALUE_LENGTH = 256;

/** Shortest password, in characters (Unicode code points, after normalization). */
export const MIN_PASSWORD_CHARACTERS = 12;

/** Longest password, in UTF-8 bytes (bounds the work of hashing). */
export const MAX_PASSWORD_BYTES = 1024;

const CONTROL_CHARACTER = /\p{Cc}/u;

/** Problems with a user name (empty when it is valid). */
export function userNameProblems(name: string): string[] {
  return USER_NAME_PATTERN.test(name) ? [] : [`user name '${printable(name)}' must start with a lower-case letter and hold at most 64 lower-case letters, digits, '.', '_' or '-'`];
}

/** Problems with a role (empty when it is valid). */
export function roleProblems(role: string): string[] {
  return ROLE_PATTERN.test(role) ? [] : [`role '${printable(role)}' must start with a lower-case letter and hold at most 64 lower-case letters, digits, '.', '_' or '-'`];
}

/** Problems with a set of subject attributes (empty when they are valid). */
export function attributeProblems(attributes: Readonly<Record<string, string>>): string[] {
  const problems: string[] = [];
  const keys = Object.keys(attributes);
  if (keys.length > MAX_ATTRIBUTES) problems.push(`at most ${MAX_ATTRIBUTES} attributes per user`);
  for (const key of keys) {
    const value = attributes[key];
    if (!ATTRIBUTE_KEY_PATTERN.test(key)) {
      problems.push(`attribute key '${printable(key)}' must start with a lower-case letter and hold at most 64 letters, digits, '_' or '-'`);
    } else if (RESERVED_ATTRIBUTE_KEYS.includes(key)) {
      problems.push(`attribute key '${key}' is reserved (${key === 'role' ? 'use --role' : 'it is the user name'})`);
    }
    if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ATTRIBUTE_VALUE_LENGTH || CONTROL_CHARACTER.test(value)) {
      problems.push(`attribute '${printable(key)}' needs a value of 1 to ${MAX_ATTRIBUTE_VALUE_LENGTH} characters without control characters`);
    }
  }
  return problems;
}

/**
 * The form of a password that is hashed and compared: Unicode NFKC, as NIST SP 800-63B (5.1.1.2)
 * recommends, so that the same password typed on different keyboards matches.
 */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

/** Problems with a new password (empty when it is acceptable). Never quotes the password. */
export function passwordProblems(password: string): string[] {
  const normalized = normalizePassword(password);
  const problems: string[] = [];
  if ([...normalized].length < MIN_PASSWORD_CHARACTERS) problems.push(`the password must be at least ${MIN_PASSWORD_CHARACTERS} characters long`);
  if (Buffer.byteLength(normalized, 'utf8') > MAX_PASSWORD_BYTES) problems.push(`the password must be at most ${MAX_PASSWORD_BYTES} bytes long (UTF-8)`);
  return problems;
}

/**
 * Parses `KEY=VALUE` arguments (`--attr`) into an attribute object: split at the first `=`.
 * Malformed and repeated keys are reported in `problems`.
 */
export function parseAttributeArguments(args: readonly string[]): { attributes: Record<string, string>; problems: string[] } {
  const attributes: Record<string, string> = {};
  const problems: string[] = [];
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq <= 0) {
      problems.push(`attribute '${printable(arg)}' is not KEY=VALUE`);
      continue;
    }
    const key = arg.slice(0, eq);
    if (Object.hasOwn(attributes, key)) problems.push(`attribute '${printable(key)}' is given more than once`);
    attributes[key] = arg.slice(eq + 1);
  }
  return { attributes, problems };
}

/** `text` cut to 80 characters with control characters escaped, for error messages. */
function printable(text: string): string {
  const cut = text.length > 80 ? `${text.slice(0, 80)}...` : text;
  return JSON.stringify(cut).slice(1, -1);
}
