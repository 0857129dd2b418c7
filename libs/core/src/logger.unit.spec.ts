import { createLogger, describeErrorSafely, redactDeep } from './logger.js';

function capture(): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, logger: createLogger('test', { level: 'info' }, { write: (line: string) => { lines.push(line); } }) };
}

class CreateKeyDto {
  constructor(readonly userId: string, readonly request: { cloudKeyPassword: string; token: { newPin: string } }) {}
}

describe('createLogger', () => {
  it('redacts passwords and PINs at any depth, in arrays and class instances, whatever their case', () => {
    const { lines, logger } = capture();
    logger.info({
      a: { b: { c: { d: { e: { password: 'deep-secret-1' } } } } },
      list: [{ items: [{ soPin: 'deep-secret-2' }] }],
      dto: new CreateKeyDto('u1', { cloudKeyPassword: 'deep-secret-3', token: { newPin: 'deep-secret-4' } }),
      headers: { Authorization: 'Bearer deep-secret-5' },
      kept: { label: '220771' },
    }, 'hello');
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(/deep-secret/);
    const line = JSON.parse(lines[0]!);
    expect(line.a.b.c.d.e.password).toBe('[redacted]');
    expect(line.list[0].items[0].soPin).toBe('[redacted]');
    expect(line.dto).toEqual({ userId: 'u1', request: { cloudKeyPassword: '[redacted]', token: { newPin: '[redacted]' } } });
    expect(line.headers.Authorization).toBe('[redacted]');
    expect(line.kept).toEqual({ label: '220771' });
    expect(line.msg).toBe('hello');
  });

  it('redacts child-logger bindings too', () => {
    const { lines, logger } = capture();
    const child = logger.child({ session: { user: { pin: 'bound-secret' } } });
    child.child({ deeper: { cookie: 'bound-secret-2' }, kept: 'k' }).warn('x');
    expect(lines[0]).not.toContain('bound-secret');
    expect(JSON.parse(lines[0]!)).toMatchObject({ session: { user: { pin: '[redacted]' } }, deeper: { cookie: '[redacted]' }, kept: 'k' });
  });

  it('still serialises errors under err', () => {
    const { lines, logger } = capture();
    logger.error({ err: new Error('boom') }, 'failed');
    expect(JSON.parse(lines[0]!).err).toMatchObject({ type: 'Error', message: 'boom' });
  });
});

describe('redactDeep', () => {
  it('copies instead of changing its input, and cuts cycles', () => {
    const input: Record<string, unknown> = { nested: { password: 'p' } };
    input['self'] = input;
    const out = redactDeep(input) as Record<string, any>;
    expect(out['nested'].password).toBe('[redacted]');
    expect(out['self']).toBe('[circular]');
    expect((input['nested'] as { password: string }).password).toBe('p');
  });

  it('keeps dates and leaves absent values absent', () => {
    const at = new Date(0);
    expect(redactDeep({ at, password: undefined, pin: null })).toEqual({ at, password: undefined, pin: null });
  });
});

describe('describeErrorSafely', () => {
  it('keeps class, name, code and stack frames but not the message', () => {
    class DriverError extends Error { code = 'XX000'; }
    const error = new DriverError('connection string postgres://u:hunter2@db failed', { cause: new TypeError('token=hunter2') });
    const described = describeErrorSafely(error);
    expect(described).toMatchObject({ type: 'DriverError', name: 'Error', code: 'XX000', cause: { type: 'TypeError' } });
    expect(described['stack']).toMatch(/^\s+at /);
    expect(JSON.stringify(described)).not.toContain('hunter2');
  });

  it('describes a thrown non-error by its type only', () => {
    expect(describeErrorSafely('password=hunter2')).toEqual({ type: 'string' });
  });
});
