import { AppError, toAppError } from './app-error.js';

describe('AppError', () => {
  it('carries a stable code, retryable false by default, and survives its wire shape', () => {
    const error = new AppError('wrong-password', 'the cloud key password is wrong', { meta: { attemptsLeft: 2 } });
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'AppError', code: 'wrong-password', retryable: false, meta: { attemptsLeft: 2 } });
    const shape = JSON.parse(JSON.stringify(error.toShape()));
    expect(shape).toEqual({ code: 'wrong-password', message: 'the cloud key password is wrong', retryable: false, meta: { attemptsLeft: 2 } });
    const back = AppError.fromShape(shape);
    expect(AppError.is(back)).toBe(true);
    expect(back.toShape()).toEqual(shape);
  });

  it('leaves meta out of the shape when there is none, and keeps a cause', () => {
    const cause = new Error('socket hang up');
    const error = new AppError('messaging.publish-failed', 'could not publish', { retryable: true, cause });
    expect(error.toShape()).toEqual({ code: 'messaging.publish-failed', message: 'could not publish', retryable: true });
    expect(error.cause).toBe(cause);
  });

  it('is told apart from other errors', () => {
    expect(AppError.is(new Error('x'))).toBe(false);
    expect(AppError.is({ code: 'x', message: 'y', retryable: false })).toBe(false);
  });
});

describe('toAppError (decides ack, nak or dead letter)', () => {
  it('returns an AppError unchanged, so a non-retryable refusal stays non-retryable', () => {
    const refusal = new AppError('validation-failed', 'bad');
    expect(toAppError(refusal)).toBe(refusal);
    expect(toAppError(refusal).retryable).toBe(false);
  });

  it('treats an unknown error as a retryable internal fault and keeps it as the cause', () => {
    const raw = new TypeError('connection reset');
    const error = toAppError(raw);
    expect(error).toMatchObject({ code: 'internal', retryable: true, message: 'connection reset' });
    expect(error.cause).toBe(raw);
  });

  it('treats a thrown non-error the same way', () => {
    expect(toAppError('boom')).toMatchObject({ code: 'internal', retryable: true, message: 'boom' });
    expect(toAppError(undefined)).toMatchObject({ code: 'internal', retryable: true, message: 'undefined' });
  });
});
