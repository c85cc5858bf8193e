import type { ValidationReport } from './data-validator';

/** A command's result: one JSON line on stdout; what is off, a line each on stderr. */
export function printReport(report: ValidationReport, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ ...extra, ...report })}\n`);
  for (const problem of report.problems) {
    process.stderr.write(`validation: ${problem}\n`);
  }
}
