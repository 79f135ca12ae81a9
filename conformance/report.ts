/**
 * The reports of a run: one text line per check and a summary (what a person reads), the whole
 * run as JSON (what a program reads), and JUnit XML (what CI systems show), one testcase per check,
 * a failed check as a `<failure>` with what was expected and seen, a skipped one as `<skipped>`.
 */
import { XMLBuilder } from 'fast-xml-parser';
import type { CheckResult } from './check.js';
import type { RunReport } from './runner.js';

/** Longest `expected` or `seen` text on a line of the text report (the JSON report has them whole). */
const LINE_TEXT = 300;

/** One line of the text report. */
export function resultLine(result: CheckResult): string {
  const outcome = result.outcome.toUpperCase().padEnd(4);
  const optional = result.required ? '' : ' (optional)';
  return `${outcome} ${result.id}${optional} [${result.section}]: expected ${clip(result.expected)}; seen ${clip(result.seen)}`;
}

function clip(text: string): string {
  const line = text.replace(/\s+/g, ' ');
  return line.length <= LINE_TEXT ? line : `${line.slice(0, LINE_TEXT - 3)}...`;
}

/** The summary lines at the end of the text report. */
export function summaryText(report: RunReport): string {
  const { total, passed, failed, failedRequired, skipped } = report.summary;
  const lines = [
    `${total} checks against ${report.server.baseUrl}${report.server.serverHeader ? ` (${report.server.serverHeader})` : ''}: ${passed} passed, ${failed} failed (${failedRequired} required, ${failed - failedRequired} optional), ${skipped} skipped, in ${(report.durationMs / 1000).toFixed(1)} s`,
    failedRequired === 0
      ? 'conformant: every required check passed'
      : `not conformant: ${report.results
          .filter((r) => r.outcome === 'fail' && r.required)
          .map((r) => r.id)
          .join(', ')}`,
  ];
  if (report.leftovers.length > 0) lines.push(`left on the server (could not delete): ${report.leftovers.join('; ')}`);
  return `${lines.join('\n')}\n`;
}

/** The JSON report. */
export function jsonReport(report: RunReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** The JUnit XML report: one testsuite, one testcase per check. */
export function junitReport(report: RunReport): string {
  const testcases = report.results.map((r) => ({
    '@_name': r.id,
    '@_classname': `conformance.${r.profile}`,
    '@_time': (r.durationMs / 1000).toFixed(3),
    ...(r.outcome === 'fail' ? { failure: { '@_message': `expected ${r.expected}; seen ${r.seen}`, '@_type': r.required ? 'required' : 'optional', '#text': `${r.title} [${r.section}]` } } : {}),
    ...(r.outcome === 'skip' ? { skipped: { '@_message': r.expected } } : {}),
  }));
  const suite = {
    '@_name': `DICOMweb conformance (${report.profile}) of ${report.server.baseUrl}`,
    '@_tests': report.summary.total,
    '@_failures': report.summary.failed,
    '@_errors': 0,
    '@_skipped': report.summary.skipped,
    '@_time': (report.durationMs / 1000).toFixed(3),
    '@_timestamp': report.startedAt,
    testcase: testcases,
  };
  const builder = new XMLBuilder({ ignoreAttributes: false, format: true, suppressEmptyNode: true });
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build({ testsuites: { '@_name': 'aegis conformance', testsuite: suite } })}`;
}
