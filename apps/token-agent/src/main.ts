#!/usr/bin/env node
import 'reflect-metadata';
import { Command } from 'commander';
import { z } from 'zod';
import { createLogger, loadConfig, toAppError } from '@thk/core';
import { agentEnvSchema, loadAgentConfig } from './config/agent.config.js';

const program = new Command('token-agent')
  .description('The token agent: finds PKCS#11 tokens on this workstation and does what touches them (key generation, certificate installation) for the cabinet.');

program.command('run', { isDefault: true })
  .description('run the agent (reads NATS_URL, NATS_CREDS, AGENT_ID, PKCS11_MODULE, AGENT_SO_PIN, AGENT_STATE_DIR, … from the environment)')
  .action(async () => {
    const logger = createLogger('token-agent');
    // Loaded per command: `status` and `tokens` start faster without Nest and the NATS client.
    const { startTokenAgent } = await import('./token-agent.app.js');
    const agent = await startTokenAgent(loadAgentConfig(), { logger });
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'stopping');
      agent.close().then(() => process.exit(0), (error: unknown) => {
        logger.error({ err: error }, 'unclean stop');
        process.exit(1);
      });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });

program.command('tokens')
  .description('list the tokens the configured PKCS#11 modules see now: <serial>(<model>), PIN state, algorithms')
  .option('--module <paths>', 'PKCS#11 module path(s), comma-separated (default: PKCS11_MODULE)')
  .option('--json', 'print JSON')
  .action(async (options: { module?: string; json?: boolean }) => {
    const { formatTokens, listTokens } = await import('./cli/tokens.command.js');
    const env = loadConfig(z.object({ PKCS11_MODULE: agentEnvSchema.shape.PKCS11_MODULE }), { PKCS11_MODULE: options.module ?? process.env['PKCS11_MODULE'] });
    const found = listTokens(env.PKCS11_MODULE);
    process.stdout.write(`${options.json ? JSON.stringify(found, (_k, v: unknown) => (Buffer.isBuffer(v) ? undefined : v), 2) : formatTokens(found)}\n`);
    if (found.some((m) => m.error)) process.exitCode = 1;
  });

program.command('status')
  .description('what the running agent reports: connection, tokens, PIN state, work in flight')
  .option('--state-dir <dir>', 'the agent state directory (default: AGENT_STATE_DIR)')
  .option('--json', 'print JSON')
  .action(async (options: { stateDir?: string; json?: boolean }) => {
    const { formatStatus, readStatusReport } = await import('./cli/status.command.js');
    const env = loadConfig(z.object({ AGENT_STATE_DIR: agentEnvSchema.shape.AGENT_STATE_DIR }), { AGENT_STATE_DIR: options.stateDir ?? process.env['AGENT_STATE_DIR'] });
    const report = await readStatusReport(env.AGENT_STATE_DIR);
    process.stdout.write(`${options.json ? JSON.stringify(report, null, 2) : formatStatus(report)}\n`);
    if (!report.alive) process.exitCode = 3;
  });

program.parseAsync(process.argv).catch((raw: unknown) => {
  const error = toAppError(raw);
  process.stderr.write(`token-agent: ${error.code}: ${error.message}\n`);
  process.exit(1);
});
