/**
 * The one error type that crosses process boundaries. `instanceof` does not survive
 * serialisation, so callers branch on `code`. `meta` must never carry a secret.
 */
export interface AppErrorShape {
  code: string;
  message: string;
  retryable: boolean;
  meta?: Record<string, unknown>;
}

export class AppError extends Error implements AppErrorShape {
  readonly code: string;
  readonly retryable: boolean;
  readonly meta?: Record<string, unknown>;

  constructor(code: string, message: string, options: { retryable?: boolean; meta?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    if (options.meta) this.meta = options.meta;
  }

  static is(value: unknown): value is AppError {
    return value instanceof AppError;
  }

  /** Rebuilds an AppError from its wire shape (an RPC error reply). */
  static fromShape(shape: AppErrorShape): AppError {
    return new AppError(shape.code, shape.message, { retryable: shape.retryable, meta: shape.meta });
  }

  toShape(): AppErrorShape {
    return { code: this.code, message: this.message, retryable: this.retryable, ...(this.meta ? { meta: this.meta } : {}) };
  }
}

/** Normalises anything thrown into an AppError; unknown errors are treated as retryable infrastructure faults. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof Error) return new AppError('internal', error.message, { retryable: true, cause: error });
  return new AppError('internal', String(error), { retryable: true });
}
