import { createLogger, type Logger } from '@thk/core';
import type { HardwareKeyProcessManager } from './hardware-key.process-manager.js';

/**
 * Turns expired deadlines into `DeadlineExpired` inputs. Every replica runs one; the process
 * manager saves each fired deadline over the saga version it loaded, so of replicas firing one
 * deadline at once only one writes.
 * A deadline is data in the saga's row, not a timer in memory: it survives any restart.
 */
export class DeadlineScheduler {
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<number> | undefined;
  private stopped = true;
  private readonly log: Logger;

  constructor(private readonly sagas: HardwareKeyProcessManager, private readonly intervalMs: number, logger?: Logger) {
    this.log = logger ?? createLogger('issuance:deadlines');
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const tick = () => {
      if (this.stopped) return;
      this.runOnce()
        .catch((error) => this.log.warn({ err: error }, 'deadline round failed; the next one retries'))
        .finally(() => {
          if (this.stopped) return;
          this.timer = setTimeout(tick, this.intervalMs);
          this.timer.unref();
        });
    };
    this.timer = setTimeout(tick, this.intervalMs);
    this.timer.unref();
  }

  /** One scan now (also what the timer runs); concurrent calls share the running round. */
  runOnce(): Promise<number> {
    this.round ??= this.sagas.fireDueDeadlines().finally(() => { this.round = undefined; });
    return this.round;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.round?.catch(() => undefined);
  }
}
