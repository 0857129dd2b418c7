import type { RequestTemporaryHardwareKeyV1, RpcRequest } from '@thk/contracts';
import { startInputHash } from './idempotency.js';
import { serialOfTokenId } from './request-hardware-key.service.js';

const base: RpcRequest<typeof RequestTemporaryHardwareKeyV1> = {
  userId: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', baseKeyId: '11111111-2222-4333-8444-555555555555', idempotencyKey: 'k-1',
  validity: 'P1M', tokenId: 'demo-agent:220771', cloudKeyPassword: 'Demo-Cloud-Key-1',
  newKeyPassword: 'eyJhbGciOiJFQ0RILUVTIn0..aXZpdml2aXZpdg.bmV3.dGFndGFndGFn', currentTokenPassword: null, algorithm: 'EC-P256',
};

describe('startInputHash', () => {
  it('is the same for the same request, whatever the cloud key password and the idempotency key', () => {
    expect(startInputHash({ ...base, cloudKeyPassword: 'another one', idempotencyKey: 'k-2' })).toBe(startInputHash(base));
  });

  it.each([
    ['baseKeyId', { baseKeyId: '11111111-2222-4333-8444-666666666666' }],
    ['validity', { validity: 'P1D' as const }],
    ['tokenId', { tokenId: 'demo-agent:220772' }],
    ['algorithm', { algorithm: 'RSA-2048' as const }],
    ['newKeyPassword', { newKeyPassword: 'eyJhbGciOiJFQ0RILUVTIn0..aXZpdml2aXZpdg.b3RoZXI.dGFndGFndGFn' }],
    ['currentTokenPassword', { currentTokenPassword: 'eyJhbGciOiJFQ0RILUVTIn0..aXZpdml2aXZpdg.Y3Vy.dGFndGFndGFn' }],
    ['userId', { userId: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4e' }],
  ])('differs when %s differs', (_field, change) => {
    expect(startInputHash({ ...base, ...change })).not.toBe(startInputHash(base));
  });
});

describe('serialOfTokenId', () => {
  it.each([
    ['demo-agent:220771', '220771'],
    ['220771', '220771'],
    ['a:b:c', 'c'],
    ['trailing:', 'trailing:'],
    ['x'.repeat(100), 'x'.repeat(64)],
  ])('%s → %s', (tokenId, serial) => {
    expect(serialOfTokenId(tokenId)).toBe(serial);
  });
});
