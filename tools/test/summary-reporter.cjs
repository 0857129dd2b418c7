// Appends each project's counts to tmp/test-results so that `npm test` can print one closing line.
const { mkdirSync, writeFileSync } = require('node:fs');
const { join, resolve } = require('node:path');

class SummaryReporter {
  constructor(globalConfig) { this.globalConfig = globalConfig; }
  onRunComplete(_contexts, results) {
    const dir = process.env.THK_TEST_RESULTS_DIR;
    if (!dir) return;
    mkdirSync(dir, { recursive: true });
    const name = resolve(this.globalConfig.rootDir).split('/').slice(-2).join('-');
    writeFileSync(join(dir, `${name}.json`), JSON.stringify({
      passed: results.numPassedTests, failed: results.numFailedTests + results.numRuntimeErrorTestSuites,
      skipped: results.numPendingTests + results.numTodoTests, suitesFailed: results.numFailedTestSuites,
    }));
  }
}
module.exports = SummaryReporter;
