/**
 * `aegis conformance`: the DICOMweb conformance suite of `conformance/`, loaded only when asked
 * for. It is a client of any DICOMweb server and needs nothing of the gateway (no data directory,
 * key or configuration), so it can be run against a PACS as well as against Aegis.
 */
import { processIo } from './command.js';

/** Runs `aegis conformance`; resolves to the exit code. */
export async function conformanceCommand(argv: string[]): Promise<number> {
  const { conformanceCommand: run } = await import('../../conformance/cli.js');
  return run(argv, processIo());
}
