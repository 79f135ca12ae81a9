/**
 * Secure by default: a gateway that starts with no users creates `admin` with a random
 * password, prints it once on the terminal (not through the log, which is kept and shipped) and
 * stores it in `DATA/admin-password`, readable only by the owner, for scripts. Change it with
 * `aegis users passwd admin` and delete the file.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isGatewayError } from '../errors.js';
import type { UserStore } from './users.js';
import { ADMIN_ROLE } from './user-rules.js';

/** The first user's name. */
export const FIRST_ADMIN = 'admin';

/** Where the first admin's password is kept. */
export function adminPasswordFile(dataDir: string): string {
  return join(dataDir, 'admin-password');
}

/**
 * Creates the first admin when there are no users; resolves to the password file when it did.
 * Concurrent starts (cluster workers) create it once: the loser sees USER_EXISTS and does nothing.
 */
export async function ensureFirstAdmin(users: UserStore, dataDir: string, print: (text: string) => void): Promise<string | undefined> {
  if (!(await users.isEmpty())) return undefined;
  const password = randomBytes(18).toString('base64url');
  try {
    await users.add({ name: FIRST_ADMIN, role: ADMIN_ROLE, password });
  } catch (error) {
    if (isGatewayError(error, 'USER_EXISTS')) return undefined;
    throw error;
  }
  const file = adminPasswordFile(dataDir);
  await writeFile(file, `${password}\n`, { mode: 0o600, flag: 'w' });
  print(
    [
      '',
      '  Aegis created the first user, with a random password (shown only this once):',
      `    user:     ${FIRST_ADMIN}`,
      `    password: ${password}`,
      `  It is also in ${file} (readable by this account only).`,
      `  Change it with 'aegis users passwd ${FIRST_ADMIN} --password-stdin', then delete that file.`,
      '',
    ].join('\n') + '\n',
  );
  return file;
}
