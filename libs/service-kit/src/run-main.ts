import { createLogger, type Logger } from '@thk/core';

/**
 * A service process's `main`: start it, stop it cleanly on SIGTERM/SIGINT (exit 0), exit 1 with the
 * reason in the log when it cannot start or cannot stop within `forceAfterMs`.
 */
export async function runMain(name: string, start: (log: Logger) => Promise<{ close(): Promise<void> }>, options: { forceAfterMs?: number } = {}): Promise<void> {
  const log = createLogger(name);
  try {
    const running = await start(log);
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping');
      setTimeout(() => { log.error('did not stop in time; exiting'); process.exit(1); }, options.forceAfterMs ?? 15_000).unref();
      running.close().then(() => process.exit(0), (error: unknown) => { log.error({ err: error }, 'unclean stop'); process.exit(1); });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  } catch (error) {
    log.fatal({ err: error }, `${name} failed to start`);
    process.exit(1);
  }
}
