import type { CrashPoint, TokenAgentConfig } from '../config/agent.config.js';

/**
 * Test support: kills the process (SIGKILL, no clean-up, like a power cut) at a named point when
 * `THK_TEST_CRASH_AT` asks for it. The crash-recovery tests run the agent as a child process.
 */
export async function crashPoint(config: Pick<TokenAgentConfig, 'crashAt'>, point: CrashPoint): Promise<void> {
  if (config.crashAt !== point) return;
  process.kill(process.pid, 'SIGKILL');
  await new Promise(() => undefined);
}
