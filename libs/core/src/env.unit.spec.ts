import { z } from 'zod';
import { AppError } from './app-error.js';
import { loadConfig } from './env.js';

const schema = z.object({ PORT: z.coerce.number().int().positive(), NATS_URL: z.string().url().default('nats://127.0.0.1:4222') });

describe('loadConfig', () => {
  it('parses, coerces and defaults', () => {
    expect(loadConfig(schema, { PORT: '8080' })).toEqual({ PORT: 8080, NATS_URL: 'nats://127.0.0.1:4222' });
  });

  it('refuses invalid configuration with one message naming every problem', () => {
    let caught: unknown;
    try { loadConfig(schema, { PORT: '-1', NATS_URL: 'not a url' }); } catch (error) { caught = error; }
    expect(caught).toBeInstanceOf(AppError);
    expect(caught).toMatchObject({ code: 'config.invalid', retryable: false });
    expect((caught as AppError).message).toMatch(/PORT: .*; NATS_URL: /);
  });
});
