import { pino, type Logger, type LoggerOptions } from 'pino';
import type { LoggerService } from '@nestjs/common';

/**
 * Paths redacted in every log line. Passwords and PINs must never be logged; the list is
 * deliberately broad (any depth) so that a new DTO cannot leak one by accident.
 */
export const REDACTED_PATHS = [
  'password', '*.password', '*.*.password',
  'cloudKeyPassword', '*.cloudKeyPassword', '*.*.cloudKeyPassword',
  'newKeyPassword', '*.newKeyPassword', '*.*.newKeyPassword',
  'currentTokenPassword', '*.currentTokenPassword', '*.*.currentTokenPassword',
  'pin', '*.pin', 'soPin', '*.soPin', 'newPin', '*.newPin', 'currentPin', '*.currentPin',
  'authorization', '*.authorization', 'req.headers.authorization', 'req.headers.cookie',
  'privateKey', '*.privateKey',
];

export function createLogger(name: string, options: LoggerOptions = {}): Logger {
  return pino({
    name,
    level: process.env['LOG_LEVEL'] ?? (process.env['NODE_ENV'] === 'test' ? 'warn' : 'info'),
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...options,
  });
}

/** Adapts pino to Nest's LoggerService so framework messages go through the same redacting logger. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, ...rest: unknown[]): void { this.logger.info(this.context(rest), String(message)); }
  error(message: unknown, ...rest: unknown[]): void { this.logger.error(this.context(rest), String(message)); }
  warn(message: unknown, ...rest: unknown[]): void { this.logger.warn(this.context(rest), String(message)); }
  debug(message: unknown, ...rest: unknown[]): void { this.logger.debug(this.context(rest), String(message)); }
  verbose(message: unknown, ...rest: unknown[]): void { this.logger.trace(this.context(rest), String(message)); }
  private context(rest: unknown[]): Record<string, unknown> {
    const last = rest[rest.length - 1];
    return typeof last === 'string' ? { context: last } : {};
  }
}

export type { Logger } from 'pino';
