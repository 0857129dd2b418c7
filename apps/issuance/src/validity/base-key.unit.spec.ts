import type { GetKeyV1, KeyAccount, RpcResponse } from '@thk/contracts';
import { assertEligibleBase } from './base-key.js';

const now = new Date('2021-08-25T13:59:00.000Z');
const key = (over: Partial<KeyAccount> = {}, certificate: Partial<NonNullable<KeyAccount['certificate']>> | null = {}): KeyAccount => ({
  id: '11111111-2222-4333-8444-555555555555', kind: 'cloud', temporary: false, baseKeyId: null,
  owner: { organization: null, edrpou: null, fullName: 'Тест Тест Тест', rnokpp: '1111111111', position: null },
  status: 'active', createdAt: '2021-08-25T13:21:00.000Z',
  certificate: certificate === null ? null : { serialNumber: '0a', subject: 'CN=x', issuer: 'CN=ca', notBefore: '2021-08-25T13:21:00.000Z', notAfter: '2022-08-25T13:21:00.000Z', ...certificate },
  token: null, actions: [], ...over,
});
const reply = (k: KeyAccount, certificateRevoked = false): RpcResponse<typeof GetKeyV1> => ({ key: k, certificateRevoked });
const verdict = (r: RpcResponse<typeof GetKeyV1>) => { try { assertEligibleBase(r, now); return 'eligible'; } catch (e) { return (e as { code: string }).code; } };

describe('assertEligibleBase', () => {
  it('accepts an active cloud key with a certificate valid now', () => {
    expect(verdict(reply(key()))).toBe('eligible');
  });

  it.each([
    ['a hardware key', reply(key({ kind: 'hardware' }))],
    ['a temporary key', reply(key({ temporary: true, baseKeyId: '11111111-2222-4333-8444-666666666666' }))],
    ['a blocked key', reply(key({ status: 'blocked' }))],
    ['an expired key', reply(key({ status: 'expired' }))],
    ['a pending key', reply(key({ status: 'pending' }))],
    ['a key without certificate', reply(key({}, null))],
    ['a revoked certificate', reply(key(), true)],
    ['a certificate not valid yet', reply(key({}, { notBefore: '2021-08-25T14:00:00.000Z' }))],
    ['a certificate that has just ended', reply(key({}, { notAfter: now.toISOString() }))],
  ])('refuses %s with key-not-eligible', (_name, r) => {
    expect(verdict(r)).toBe('key-not-eligible');
  });
});
