// A jest environment whose `process.env` is the worker's real environment. Jest gives every test
// file a copy, so `process.env.SOFTHSM2_CONF = …` would never reach the native getenv() that SoftHSM
// calls in C_Initialize. Suites that load a PKCS#11 module in-process set it here, before opening.
const { TestEnvironment } = require('jest-environment-node');

class ProcessEnvEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    this.global.process.env = process.env;
  }
}

module.exports = ProcessEnvEnvironment;
