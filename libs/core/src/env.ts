import { z } from 'zod';
import { AppError } from './app-error.js';

/**
 * Parses configuration from the environment with a zod schema, so that a service refuses to
 * start with a clear message instead of failing later with an undefined value.
 */
export function loadConfig<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv = process.env): z.infer<T> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new AppError('config.invalid', `invalid configuration: ${issues}`);
  }
  return parsed.data;
}

export const natsUrlDefault = 'nats://127.0.0.1:4222';
export const databaseUrlDefault = 'postgres://postgres@127.0.0.1:5432/postgres';
