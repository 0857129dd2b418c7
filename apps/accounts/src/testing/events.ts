import { randomInt, randomUUID, generateKeyPairSync } from 'node:crypto';
import {
  CreateDevUserV1, HardwareKeyRequestFailedV1, HardwareKeyRequestedV1, TemporaryHardwareKeyFormedV1,
  type HardwareKeyFailureCode, type RpcRequest,
} from '@thk/contracts';
import type { Harness } from './accounts-harness.js';

export const TOKEN = { agentId: 'demo-agent', tokenId: 'demo-agent:220771', serial: '220771', model: 'е.ключ IIT Алмаз-1К', label: '220771' };

export function randomRnokpp(): string {
  return String(randomInt(1_000_000_000, 9_999_999_999));
}

/** A development user with a cloud key certified by the test CA. */
export async function createDevUser(h: Harness, overrides: Partial<RpcRequest<typeof CreateDevUserV1>> = {}): Promise<{ userId: string; keyId: string; password: string }> {
  const password = overrides.cloudKeyPassword ?? `Cloud-${randomUUID()}`;
  const { userId, keyId } = await h.rpc.call(CreateDevUserV1, {
    fullName: 'Тест Тест Тест', rnokpp: randomRnokpp(), organization: null, edrpou: null, position: null, certificate: null,
    ...overrides, cloudKeyPassword: password,
  }, { timeoutMs: 20_000 });
  return { userId, keyId, password };
}

export interface TemporaryRequest { requestId: string; userId: string; baseKeyId: string; keyAccountId: string }

export function temporaryRequest(base: { userId: string; keyId: string }): TemporaryRequest {
  return { requestId: randomUUID(), userId: base.userId, baseKeyId: base.keyId, keyAccountId: randomUUID() };
}

export async function publishRequested(h: Harness, r: TemporaryRequest, at = new Date()) {
  return h.publish(HardwareKeyRequestedV1, {
    ...r,
    validity: { option: 'P1W', notBefore: at.toISOString(), notAfter: new Date(at.getTime() + 7 * 86_400_000).toISOString(), capped: false, cappedBy: null },
    token: TOKEN,
    algorithm: 'EC-P256',
    requestedAt: at.toISOString(),
  });
}

/** Forms the key with a certificate from the test CA (window: `notBefore`..`notAfter`). */
export async function publishFormed(h: Harness, r: TemporaryRequest, window: { notBefore?: Date; notAfter?: Date } = {}) {
  const spki = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
  const notBefore = window.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = window.notAfter ?? new Date(Date.now() + 7 * 86_400_000);
  const issued = await h.ca.issue(new Uint8Array(spki).buffer, {
    commonName: 'Тест Тест Тест', surname: 'Тест', givenName: 'Тест Тест', serialNumber: 'TINUA-1111111111',
    organization: null, organizationIdentifier: null, title: null, country: 'UA',
  }, notBefore, notAfter);
  const envelope = await h.publish(TemporaryHardwareKeyFormedV1, {
    ...r, token: TOKEN, tokenKeyId: 'a1b2c3d4e5f60718', algorithm: 'EC-P256',
    certificate: { ...issued.summary, der: issued.der.toString('base64') },
    formedAt: new Date().toISOString(),
  });
  return { envelope, issued };
}

export async function publishFailed(h: Harness, r: TemporaryRequest, code: HardwareKeyFailureCode = 'agent-timeout') {
  return h.publish(HardwareKeyRequestFailedV1, { ...r, code, detail: 'the agent did not answer in time', failedAt: new Date().toISOString() });
}
