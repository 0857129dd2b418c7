import { AppError } from '@thk/core';
import { problemFromAppError } from './problem.js';

describe('problemFromAppError', () => {
  it.each([
    ['wrong-password', 422],
    ['key-access-blocked', 423],
    ['token-unavailable', 409],
    ['busy', 503],
    ['issuer-certificate-expiring', 503],
    ['not-available', 404],
  ])('answers %s with %i', (code, status) => {
    expect(problemFromAppError(new AppError(code, 'x')).status).toBe(status);
  });

  it('hides the message of a code it does not know', () => {
    const p = problemFromAppError(new AppError('typeorm.query-failed', 'relation "secret" does not exist'));
    expect(p).toMatchObject({ status: 500, code: 'internal' });
    expect(p.detail).not.toContain('secret');
  });

  it('carries remainingAttempts of a wrong password', () => {
    expect(problemFromAppError(new AppError('wrong-password', 'wrong', { meta: { remainingAttempts: 2 } }))).toMatchObject({ remainingAttempts: 2 });
  });
});
