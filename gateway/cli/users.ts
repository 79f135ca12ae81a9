/**
 * `aegis users add|passwd|disable|enable|unlock|list`. Each run opens the catalog, makes its
 * change and closes it, so it works while a gateway runs on the same data (SQLite in WAL mode;
 * the gateway reads sign-in delays from the catalog on every attempt, so an unlock applies at once). Passwords come from standard input or a file, never from the command line,
 * and are never printed. Exit codes: 0 done, 1 refused or failed (message on stderr), 2 usage.
 */
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { CommandError, formatTable, hasPasswordArgument, parseCommandLine, processIo, runCommand, UsageError, type CommandIo } from './command.js';
import { existingCatalog } from './data-directory.js';
import { Catalog } from '../catalog/catalog.js';
import { loadConfig } from '../config.js';
import { attributeProblems, parseAttributeArguments, roleProblems, userNameProblems } from '../access/user-rules.js';
import { UserStore, type User } from '../access/users.js';
import { clearSignInDelays } from '../access/authn/login-throttle.js';

/** Usage of `aegis users`. */
export const USERS_USAGE = `usage: aegis users <sub-command> [options]

sub-commands:
  add NAME --role ROLE [--attr KEY=VALUE ...] (--password-stdin | --password-file FILE)
                    add a user; --attr may repeat (department=..., institution=..., licence=...)
  passwd NAME (--password-stdin | --password-file FILE)
                    set a user's password
  disable NAME      forbid a user to sign in
  enable NAME       allow a disabled user to sign in again
  unlock NAME       end the sign-in delays that wrong passwords for NAME started, from every client
  list [--json]     list users (never their password hashes)

options (every sub-command):
  --config FILE     configuration file, YAML or JSON (env AEGIS_CONFIG)
  --data DIR        data directory, default ./data (env AEGIS_DATA_DIR)
  -h, --help        show this help

Passwords are read from standard input (one line) or a file, never from the command line:
at least 12 characters, at most 1024 bytes. Names and roles: a lower-case letter, then up to 63
lower-case letters, digits, '.', '_' or '-'. Roles are free text for the policy; 'admin' is
built in and may do everything. Attribute keys: a lower-case letter, then letters, digits, '_', '-'.
`;

/** Largest password input read from stdin or a file (the password limit is checked after). */
const MAX_PASSWORD_INPUT_BYTES = 64 * 1024;

/** Runs `aegis users ...`; `argv` starts with `users`. Resolves to the exit code. */
export async function usersCommand(argv: string[], io: CommandIo = processIo()): Promise<number> {
  if (hasPasswordArgument(argv)) {
    io.stderr.write('aegis users: --password is not accepted: a password on the command line shows in process lists and shell history; use --password-stdin or --password-file FILE\n');
    return 2;
  }
  return runCommand('users', io, () => run(argv, io));
}

/** The sub-commands of `aegis users` and the options each takes (besides --config and --data). */
const SUB_COMMAND_OPTIONS: Record<string, string[]> = {
  add: ['role', 'attr', 'password-stdin', 'password-file'],
  passwd: ['password-stdin', 'password-file'],
  disable: [],
  enable: [],
  unlock: [],
  list: ['json'],
};

/** One `aegis users` request, its arguments checked. */
interface UsersRequest {
  sub: string;
  /** The user name (every sub-command but `list`). */
  name?: string;
  role?: string;
  attributes: Record<string, string>;
  passwordFile?: string;
  needsPassword: boolean;
  json: boolean;
  config?: string;
  data?: string;
}

async function run(argv: string[], io: CommandIo): Promise<number> {
  const request = parseUsersArguments(argv);
  if (request === 'help') {
    io.stdout.write(USERS_USAGE);
    return 0;
  }
  const { sub, name } = request;
  if (sub === 'add') {
    // Refuse a bad name, role or attribute before asking for a password.
    const invalid = [...userNameProblems(name!), ...roleProblems(request.role!), ...attributeProblems(request.attributes)];
    if (invalid.length > 0) throw new CommandError(invalid.join('; '));
  }

  const config = loadConfig({ file: request.config, env: io.env, flags: { dataDir: request.data } });
  // Never a new catalog, even for `add`: a missing one means a wrong --data.
  const file = existingCatalog(config.dataDir);
  // Read the password before opening the catalog: nothing is held open while a person types.
  const password = request.needsPassword ? await readPassword(request.passwordFile, io) : '';

  const catalog = await Catalog.openSqlite(file);
  try {
    io.stdout.write(await applyUsersRequest(catalog, request, password));
  } finally {
    await catalog.close();
  }
  return 0;
}

/** Parses and checks the command line of `aegis users` (UsageError for anything wrong), or 'help'. */
function parseUsersArguments(argv: string[]): UsersRequest | 'help' {
  const { values, positionals } = parseCommandLine(argv, {
    role: { type: 'string' },
    attr: { type: 'string', multiple: true },
    'password-stdin': { type: 'boolean' },
    'password-file': { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) return 'help';
  const [, sub, name, ...extra] = positionals;
  if (sub === undefined) throw new UsageError('which sub-command?');
  if (!Object.hasOwn(SUB_COMMAND_OPTIONS, sub)) throw new UsageError(`unknown sub-command '${sub}'`);
  for (const option of Object.keys(values)) {
    if (option !== 'config' && option !== 'data' && !SUB_COMMAND_OPTIONS[sub].includes(option)) throw new UsageError(`'${sub}' takes no --${option}`);
  }
  const wantsName = sub !== 'list';
  if (wantsName && name === undefined) throw new UsageError(`'${sub}' needs a user name`);
  if (extra.length > 0 || (!wantsName && name !== undefined)) throw new UsageError(`unexpected argument '${wantsName ? extra[0] : name}'`);
  if (sub === 'add' && values.role === undefined) throw new UsageError("'add' needs --role ROLE");
  const { attributes, problems } = parseAttributeArguments(values.attr ?? []);
  if (problems.length > 0) throw new UsageError(problems.join('; '));
  const needsPassword = sub === 'add' || sub === 'passwd';
  if (needsPassword && (values['password-stdin'] === true) === (values['password-file'] !== undefined)) {
    throw new UsageError(`'${sub}' needs exactly one of --password-stdin and --password-file FILE`);
  }
  return { sub, name, role: values.role, attributes, passwordFile: values['password-file'], needsPassword, json: values.json === true, config: values.config, data: values.data };
}

/** Makes the change a request asks for in the catalog; resolves to what to print. */
async function applyUsersRequest(catalog: Catalog, request: UsersRequest, password: string): Promise<string> {
  const users = new UserStore(catalog.db);
  const name = request.name!;
  switch (request.sub) {
    case 'add': {
      const user = await users.add({ name, role: request.role!, attributes: request.attributes, password });
      return `added user '${user.name}' (role ${user.role})\n`;
    }
    case 'passwd':
      await users.setPassword(name, password);
      return `password of '${name}' changed\n`;
    case 'disable':
      await users.disable(name);
      return `user '${name}' disabled\n`;
    case 'enable':
      await users.enable(name);
      return `user '${name}' enabled\n`;
    case 'unlock': {
      // Any name: delays are kept for names nobody has too, and clearing them reveals nothing.
      const clients = await clearSignInDelays(catalog.db, name);
      return `sign-in delays of '${JSON.stringify(name).slice(1, -1)}' cleared (${clients} ${clients === 1 ? 'client' : 'clients'})\n`;
    }
    default:
      return request.json ? `${JSON.stringify(await users.list(), null, 2)}\n` : formatUsers(await users.list());
  }
}

/** Reads one password line from a file or stdin; a final line break is not part of it. */
async function readPassword(file: string | undefined, io: CommandIo): Promise<string> {
  let bytes: Buffer;
  if (file !== undefined) {
    try {
      bytes = await readFile(file);
    } catch (error) {
      throw new CommandError(`cannot read the password file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  } else {
    if (io.stdin.isTTY) io.stderr.write('reading the password from standard input (it is echoed; end with Ctrl-D)\n');
    bytes = await readAll(io.stdin);
  }
  if (bytes.length > MAX_PASSWORD_INPUT_BYTES) throw new CommandError('the password input is too long');
  const text = bytes.toString('utf8').replace(/\r?\n$/, '');
  if (/[\r\n]/.test(text)) throw new CommandError('the password must be a single line');
  if (text.length === 0) throw new CommandError(`no password on ${file === undefined ? 'standard input' : file}`);
  return text;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
    if (size > MAX_PASSWORD_INPUT_BYTES) break;
  }
  return Buffer.concat(chunks);
}

/** The users as an aligned table: name, role, status, attributes. */
function formatUsers(users: User[]): string {
  if (users.length === 0) return 'no users\n';
  const rows = [['NAME', 'ROLE', 'STATUS', 'ATTRIBUTES']].concat(
    users.map((u) => [
      u.name,
      u.role,
      u.disabled ? 'disabled' : 'enabled',
      Object.entries(u.attributes)
        .map(([k, v]) => `${k}=${v}`)
        .join(' '),
    ]),
  );
  return formatTable(rows);
}
