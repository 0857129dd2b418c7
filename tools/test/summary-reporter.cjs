// Writes each project's counts, and what failed, to tmp/test-results so that `npm test` can close with
// one line of counts and the failures themselves (CI shows the end of the output: it must name them).
const { mkdirSync, writeFileSync } = require('node:fs');
const { join, relative, resolve } = require('node:path');

/** Enough of a failure message to see what broke: its first lines, without colours or frames of jest and node. */
const MESSAGE_LINES = 12;
const plain = (text) => text.replace(/\x1b\[[0-9;]*m/g, '');
const head = (text) => plain(text).split('\n')
  .filter((l) => l.trim() !== '' && !/^\s+at .*(node_modules|node:internal|<anonymous>)/.test(l))
  .slice(0, MESSAGE_LINES).join('\n');

class SummaryReporter {
  constructor(globalConfig) { this.globalConfig = globalConfig; }
  onRunComplete(_contexts, results) {
    const dir = process.env.THK_TEST_RESULTS_DIR;
    if (!dir) return;
    mkdirSync(dir, { recursive: true });
    const rootDir = resolve(this.globalConfig.rootDir);
    const name = rootDir.split('/').slice(-2).join('-');
    const failures = [];
    for (const suite of results.testResults) {
      const file = relative(rootDir, suite.testFilePath);
      if (suite.testExecError) failures.push({ file, test: '(the suite did not run)', message: head(suite.testExecError.message ?? String(suite.testExecError)) });
      for (const t of suite.testResults) {
        if (t.status === 'failed') failures.push({ file, test: t.fullName, message: head(t.failureMessages.join('\n')) });
      }
      if (suite.failureMessage && !suite.testExecError && !suite.testResults.some((t) => t.status === 'failed')) {
        failures.push({ file, test: '(outside any test: a hook or the suite)', message: head(suite.failureMessage) });
      }
    }
    writeFileSync(join(dir, `${name}.json`), JSON.stringify({
      passed: results.numPassedTests, failed: results.numFailedTests + results.numRuntimeErrorTestSuites,
      skipped: results.numPendingTests + results.numTodoTests, suitesFailed: results.numFailedTestSuites, failures,
    }));
  }
}
module.exports = SummaryReporter;
