/**
 * `aegis conformance`: runs the DICOMweb conformance suite against any server, from the command
 * line, with nothing of a gateway (no data directory, key or configuration). Exit codes: 0 when
 * every required check passed, 1 when one failed, 2 for a wrong command line.
 */
import { writeFile } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import type { Profile } from './check.js';
import { jsonReport, junitReport, resultLine, summaryText } from './report.js';
import { runSuite, type RunOptions } from './runner.js';

/** Usage of `aegis conformance`. */
export const CONFORMANCE_USAGE = `usage: aegis conformance --base-url URL [--header 'Name: value']... [--profile dicomweb|security|all]
                         [--origin ORIGIN] [--denied-header 'Name: value']... [--tamper-command CMD]
                         [--timeout SECONDS] [--json FILE] [--junit FILE]

Runs the DICOMweb conformance suite (PS3.18) against the server at URL (its DICOMweb root, e.g.
http://pacs:8042/dicom-web). The suite stores its own studies (fresh UIDs, Study Description
"AEGIS CONFORMANCE SUITE"), reads and matches only those, and deletes them at the end (or says
what it left when the server does not delete).

  --base-url URL        the DICOMweb root of the server under test (required)
  --header 'N: v'       a header sent with every request, e.g. 'Authorization: Bearer ...' (repeatable)
  --profile P           dicomweb (default), security (access control of a gateway) or all
  --origin ORIGIN       run the CORS checks for this browser origin
  --denied-header 'N: v' credentials of a user denied the suite's study (security; repeatable)
  --tamper-command CMD  shell command that alters the stored data of the instance named by
                        CONFORMANCE_STUDY_UID, CONFORMANCE_SERIES_UID and CONFORMANCE_SOP_INSTANCE_UID (security)
  --timeout SECONDS     deadline of each request, default 30
  --json FILE           write the JSON report to FILE
  --junit FILE          write a JUnit XML report to FILE

Exit status: 0 every required check passed, 1 a required check failed, 2 usage error.
`;

/** The command line is wrong. */
export class UsageError extends Error {}

/** Where the command writes. */
export interface ConformanceIo {
  stdout: Writable;
  stderr: Writable;
}

/** A parsed command line: the run's options and where to write the reports. */
export interface ConformanceArgs {
  help: boolean;
  run: RunOptions;
  json?: string;
  junit?: string;
}

const PROFILES = ['dicomweb', 'security', 'all'] as const;

/** Parses the arguments of `aegis conformance` (`argv` may start with the word `conformance`); UsageError when wrong. */
export function parseConformanceArgs(argv: string[]): ConformanceArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'base-url': { type: 'string' },
        header: { type: 'string', multiple: true },
        profile: { type: 'string' },
        origin: { type: 'string' },
        'denied-header': { type: 'string', multiple: true },
        'tamper-command': { type: 'string' },
        timeout: { type: 'string' },
        json: { type: 'string' },
        junit: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const extra = positionals.filter((p, i) => !(i === 0 && p === 'conformance'));
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const help = values.help === true;
  const baseUrl = values['base-url'];
  if (baseUrl === undefined && !help) throw new UsageError('--base-url is required');
  if (baseUrl !== undefined && !/^https?:\/\/[^/]/.test(baseUrl)) throw new UsageError(`--base-url '${baseUrl}' is not an http(s) URL`);
  const profile = values.profile ?? 'dicomweb';
  if (!(PROFILES as readonly string[]).includes(profile)) throw new UsageError(`--profile must be one of ${PROFILES.join(', ')}, not '${profile}'`);
  const timeout = values.timeout === undefined ? 30 : Number(values.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`--timeout '${values.timeout}' is not a positive number of seconds`);
  const denied = values['denied-header'];
  return {
    help,
    json: values.json,
    junit: values.junit,
    run: {
      baseUrl: baseUrl ?? '',
      headers: headersOf(values.header ?? [], '--header'),
      profile: profile as Profile | 'all',
      origin: values.origin,
      deniedHeaders: denied === undefined ? undefined : headersOf(denied, '--denied-header'),
      tamperCommand: values['tamper-command'],
      timeoutMs: Math.round(timeout * 1000),
    },
  };
}

/** `Name: value` strings as a header object; UsageError for one without a name or a colon. */
function headersOf(lines: string[], option: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = colon < 0 ? '' : line.slice(0, colon).trim();
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new UsageError(`${option} '${line}' is not 'Name: value'`);
    headers[name] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** Runs `aegis conformance`; resolves to the exit code. */
export async function conformanceCommand(argv: string[], io: ConformanceIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let args: ConformanceArgs;
  try {
    args = parseConformanceArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`aegis conformance: ${error.message}\n(see 'aegis conformance --help')\n`);
    return 2;
  }
  if (args.help) {
    io.stdout.write(CONFORMANCE_USAGE);
    return 0;
  }
  const report = await runSuite(args.run, (result) => io.stdout.write(`${resultLine(result)}\n`));
  io.stdout.write(summaryText(report));
  if (args.json !== undefined) await writeFile(args.json, jsonReport(report));
  if (args.junit !== undefined) await writeFile(args.junit, junitReport(report));
  return report.summary.failedRequired === 0 ? 0 : 1;
}
