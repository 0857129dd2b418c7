// A jest environment whose `process.env` is the worker's real environment (jest gives each test
// file a copy, which the native getenv() of SoftHSM's C_Initialize never sees). Used by the suite
// that keeps the CA key in a SoftHSM token; it sets SOFTHSM2_CONF before opening the module.
const { TestEnvironment } = require('jest-environment-node');

class ProcessEnvEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    this.global.process.env = process.env;
  }
}

module.exports = ProcessEnvEnvironment;
