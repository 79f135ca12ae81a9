/**
 * What the `aegis` sub-commands share: the options every one takes
 * (`--config FILE`, `--data DIR`, or AEGIS_CONFIG / AEGIS_DATA_DIR, and `-h/--help`), the streams
 * they use, and one mapping of failures to exit codes: 2 for a wrong command line, 1 for a refusal
 * or failure with a message, 0 for success.
 */
import { userInfo } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../config.js';
import { isGatewayError } from '../errors.js';

/** The `parseArgs` options every sub-command takes. */
export const COMMON_OPTIONS = {
  config: { type: 'string' },
  data: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Parses a sub-command's arguments (its options plus {@link COMMON_OPTIONS}); UsageError when they are wrong. */
export function parseCommandLine<const O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, options: { ...COMMON_OPTIONS, ...options } });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/**
 * The sub-command of `aegis <command> <sub-command>` (the second positional), one of `names` and
 * followed by no other argument; UsageError otherwise.
 */
export function subCommandOf<const N extends string>(positionals: readonly string[], names: readonly N[]): N {
  const [, sub, extra] = positionals;
  if (sub === undefined) throw new UsageError('which sub-command?');
  if (!(names as readonly string[]).includes(sub)) throw new UsageError(`unknown sub-command '${sub}'`);
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  return sub as N;
}

/** The streams and environment a sub-command uses (injected by tests). */
export interface CommandIo {
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
}

/** The command line is wrong: exit 2, pointing at the usage. */
export class UsageError extends Error {}

/** Refused or failed, with a message for the user: exit 1. */
export class CommandError extends Error {}

/** True when `argv` tries to pass a password on the command line (refused: it shows in process lists). */
export function hasPasswordArgument(argv: readonly string[]): boolean {
  return argv.some((arg) => arg === '--password' || arg.startsWith('--password='));
}

/** The process's own streams and environment. */
export function processIo(): CommandIo {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };
}

/** Runs a sub-command body and turns its failures into a message on stderr and an exit code. */
export async function runCommand(name: string, io: Pick<CommandIo, 'stderr'>, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`aegis ${name}: ${error.message}\n(see 'aegis ${name} --help')\n`);
      return 2;
    }
    if (error instanceof ConfigError || error instanceof CommandError || isGatewayError(error)) {
      io.stderr.write(`aegis ${name}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

/** Rows as an aligned text table: every column but the last padded to its widest cell, two spaces apart. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return (
    rows
      .map((r) =>
        r
          .map((cell, i) => (i < r.length - 1 ? cell.padEnd(widths[i]) : cell))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** The operator's login name, as the actor of what a command records in the audit trail. */
export function operatorName(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown-operator';
  }
}
