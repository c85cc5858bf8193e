'use strict';

/**
 * Ends a jest run with the plain closing line that CI reads ("N passed, N failed"; jest's own "Tests: N passed,
 * N total" is not taken for a count). Jest prints its last lines after the reporters have run, so the line is
 * written as the process exits, to the stream jest writes to.
 */
class ClosingLineReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const counts = `${results.numPassedTests} passed, ${results.numFailedTests} failed`;
    const line = `jest: ${skipped > 0 ? `${counts}, ${skipped} skipped` : counts}\n`;
    process.once('exit', () => process.stderr.write(line));
  }
}

module.exports = ClosingLineReporter;
