// Loaded into every service with NODE_OPTIONS=--import=<this file> by tools/diag/trace-formation.mjs --profile:
// samples the CPU from the start and writes `<service>-<pid>.cpuprofile` into $THK_PROFILE_DIR once the file
// `stop` appears there (the trace writes it when done). Samples before the file `start` are left out by
// tools/diag/profile-report.mjs, so that start-up does not drown the formations.
import { existsSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.THK_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 250 });
  session.post('Profiler.start');
  const name = (process.argv[1] ?? 'node').split('/').slice(-3, -2)[0] ?? 'node';
  const poll = setInterval(() => {
    if (!existsSync(join(dir, 'stop'))) return;
    clearInterval(poll);
    session.post('Profiler.stop', (error, result) => {
      if (!error && result?.profile) writeFileSync(join(dir, `${name}-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  }, 200);
  poll.unref();
}
