import type { Report } from '../schema/report';
import { formatJunit } from './junit';
import { formatTap } from './tap';

/** How a command's result is printed: the human report, or one machine-readable document on stdout. */
export const REPORTERS = ['human', 'json', 'junit', 'tap'] as const;
export type ReporterName = (typeof REPORTERS)[number];

export const isReporterName = (s: string): s is ReporterName => (REPORTERS as readonly string[]).includes(s);

/**
 * The document a machine reporter prints for a report: JSON (schema/report.schema.json), JUnit
 * XML (one <testsuite> per command) or TAP 13 as kselftest prints it. Null for the human reporter,
 * whose lines were printed as the command ran.
 */
export function renderReport(reporter: ReporterName, r: Report): string | null {
  switch (reporter) {
    case 'human':
      return null;
    case 'json':
      return `${JSON.stringify(r, null, 2)}\n`;
    case 'junit':
      return formatJunit(r);
    case 'tap':
      return formatTap(r);
  }
}
