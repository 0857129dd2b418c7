import { AppError } from '@thk/core';
import type { JetStreamContext } from '@thk/messaging';

/**
 * The consumer is filtered to `agent.<agentId>.cmd.>` and server permissions should make anything
 * else impossible; a command for another agent that still arrives is a configuration fault and is
 * dead-lettered, never acted on.
 */
export function assertOwnSubject(ctx: JetStreamContext, agentId: string): void {
  if (ctx.getAgentId() !== agentId) {
    throw new AppError('agent.foreign-command', `command on ${ctx.getSubject()} is not for agent ${agentId}`, { retryable: false });
  }
}
