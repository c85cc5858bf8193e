'use strict';

const { appendFileSync } = require('node:fs');
const { relative } = require('node:path');

/** Lines of a failure's message kept in the closing summary: the assertion and where it failed. */
const MESSAGE_LINES = 12;

// eslint-disable-next-line no-control-regex -- the ANSI colour codes of jest's messages
const ANSI = /\u001b\[[0-9;]*m/g;

/**
 * Ends a jest run with the plain closing line that CI reads ("N passed, N failed"; jest's own "Tests: N passed,
 * N total" is not taken for a count). Jest prints its last lines after the reporters have run, so the line is
 * written as the process exits, to the stream jest writes to. With `JEST_FAILURES_FILE` set (tools/test.js sets it),
 * each failed test and suite is also appended there, short: `npm test` prints them again after its last run, so that
 * a failure on Node 24 still shows at the end of a long log (CI keeps a log's start and end).
 */
class ClosingLineReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
  }

  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const counts = `${results.numPassedTests} passed, ${results.numFailedTests} failed`;
    const line = `jest: ${skipped > 0 ? `${counts}, ${skipped} skipped` : counts}\n`;
    process.once('exit', () => process.stderr.write(line));
    const file = process.env.JEST_FAILURES_FILE;
    if (file) {
      const failures = this.failures(results);
      if (failures.length > 0) {
        appendFileSync(file, failures.join('\n'));
      }
    }
  }

  failures(results) {
    const out = [];
    const short = (message) =>
      message
        .replace(ANSI, '')
        .split('\n')
        .filter((line) => !/^\s+at .*(node_modules|node:internal)/.test(line))
        .slice(0, MESSAGE_LINES)
        .join('\n    ');
    for (const suite of results.testResults) {
      const where = `${suite.displayName?.name ?? ''} ${relative(this.rootDir, suite.testFilePath)}`.trim();
      if (suite.testExecError) {
        out.push(`FAIL ${where} (the suite did not run)\n    ${short(suite.testExecError.message ?? '')}\n`);
      }
      const failed = suite.testResults.filter((test) => test.status === 'failed');
      for (const test of failed) {
        out.push(`FAIL ${where} › ${test.fullName}\n    ${short(test.failureMessages.join('\n'))}\n`);
      }
      if (!suite.testExecError && failed.length === 0 && suite.failureMessage) {
        // A hook after every test (afterAll) failed, or the suite left something open.
        out.push(`FAIL ${where}\n    ${short(suite.failureMessage)}\n`);
      }
    }
    return out;
  }
}

module.exports = ClosingLineReporter;
