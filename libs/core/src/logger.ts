import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import type { LoggerService } from '@nestjs/common';

/**
 * Keys whose values are never logged, wherever they appear (compared case-insensitively): passwords,
 * PINs, credentials. `createLogger` redacts them at any depth of a log line's objects, so that a new
 * DTO cannot leak one by accident.
 */
export const REDACTED_KEYS: readonly string[] = [
  'password', 'cloudKeyPassword', 'newKeyPassword', 'currentTokenPassword', 'tokenPassword',
  'pin', 'soPin', 'newPin', 'currentPin', 'userPin',
  'authorization', 'cookie', 'privateKey', 'secret',
];

/**
 * pino `redact` paths for the same keys at fixed depths (pino cannot express "any depth"). For pino
 * instances made without `createLogger`; they also cover serializer output such as `req.headers`.
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

const CENSOR = '[redacted]';
const MAX_DEPTH = 12;
const redactedKeys = new Set(REDACTED_KEYS.map((k) => k.toLowerCase()));

/**
 * A copy of `value` with every property named in `REDACTED_KEYS` replaced by `[redacted]`, at any
 * depth of plain objects, arrays and class instances (the input is not changed). Errors are left to
 * pino's `err` serializer; objects with `toJSON` (Date, Buffer) are kept as they are. Deeper than 12
 * levels, or circular, is cut off rather than printed.
 */
export function redactDeep<T>(value: T): T {
  return walk(value, 0, new WeakSet()) as T;
}

function walk(value: unknown, depth: number, ancestors: WeakSet<object>): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Error || typeof (value as { toJSON?: unknown }).toJSON === 'function' || ArrayBuffer.isView(value) || value instanceof Map || value instanceof Set) return value;
  if (ancestors.has(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  ancestors.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => walk(v, depth + 1, ancestors));
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      out[key] = redactedKeys.has(key.toLowerCase()) && v !== undefined && v !== null ? CENSOR : walk(v, depth + 1, ancestors);
    }
    return out;
  } finally {
    ancestors.delete(value);
  }
}

/**
 * What may be logged of an error whose message could carry a secret (a driver's message quoting a
 * query, a library echoing its input): its class, name and code, and its stack frames without the
 * message line. The same for its causes, three deep.
 */
export function describeErrorSafely(error: unknown, depth = 0): Record<string, unknown> {
  if (!(error instanceof Error)) return { type: error === null ? 'null' : typeof error };
  const described: Record<string, unknown> = { type: error.constructor?.name ?? 'Error', name: error.name };
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') described['code'] = code;
  if (error.stack) described['stack'] = error.stack.split('\n').filter((line) => /^\s+at /.test(line)).join('\n');
  if (error.cause !== undefined && depth < 3) described['cause'] = describeErrorSafely(error.cause, depth + 1);
  return described;
}

/**
 * A pino logger that redacts `REDACTED_KEYS` at any depth (a `formatters.log` pass, plus the fixed
 * `REDACTED_PATHS` for serializer output). `destination` is where the lines go (default stdout).
 */
export function createLogger(name: string, options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const formatters = options.formatters ?? {};
  const config: LoggerOptions = {
    name,
    level: process.env['LOG_LEVEL'] ?? (process.env['NODE_ENV'] === 'test' ? 'warn' : 'info'),
    redact: { paths: REDACTED_PATHS, censor: CENSOR },
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...options,
    formatters: {
      ...formatters,
      log: (object) => redactDeep(formatters.log ? formatters.log(object) : object),
      bindings: (bindings) => redactDeep(formatters.bindings ? formatters.bindings(bindings) : bindings),
    },
  };
  const logger = destination ? pino(config, destination) : pino(config);
  // pino applies `formatters.bindings` to the root's bindings only; children (which inherit from
  // their parent, so this reaches grandchildren too) get theirs redacted here.
  const child = logger.child;
  logger.child = function redactingChild(this: Logger, bindings: Parameters<Logger['child']>[0], childOptions?: Parameters<Logger['child']>[1]) {
    return child.call(this, redactDeep(bindings), childOptions);
  } as Logger['child'];
  return logger;
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
