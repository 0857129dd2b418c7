import { randomUUID } from 'node:crypto';
import type { HardwareKeyRequestView, KeyAccount, TokenView } from '@thk/contracts';

export function keyAccountFixture(overrides: Partial<KeyAccount> = {}): KeyAccount {
  return {
    id: randomUUID(),
    kind: 'cloud',
    temporary: false,
    baseKeyId: null,
    owner: { organization: null, edrpou: null, fullName: 'Тест Тест Тест', rnokpp: '1111111111', position: null },
    status: 'active',
    createdAt: '2021-08-25T13:21:00.000Z',
    certificate: {
      serialNumber: '0a1b2c',
      subject: 'CN=Тест Тест Тест, serialNumber=TINUA-1111111111, C=UA',
      issuer: 'CN=THK Dev CA, C=UA',
      notBefore: '2021-08-25T13:21:00.000Z',
      notAfter: '2022-08-25T13:21:00.000Z',
    },
    token: null,
    actions: ['form-temporary-hardware-key', 'download-certificates'],
    ...overrides,
  };
}

export function tokenFixture(overrides: Partial<TokenView> = {}): TokenView {
  return {
    tokenId: 'agent-1:220771',
    agentId: 'agent-1',
    serial: '220771',
    model: 'е.ключ IIT Алмаз-1К',
    label: '220771',
    display: '220771(е.ключ IIT Алмаз-1К)',
    userPinInitialized: false,
    algorithms: ['EC-P256', 'RSA-2048'],
    agentKey: { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' },
    ...overrides,
  };
}

export function requestViewFixture(requestId: string, baseKeyId: string, states: HardwareKeyRequestView['status'][], extra: Partial<HardwareKeyRequestView> = {}): HardwareKeyRequestView {
  const t0 = Date.parse('2021-08-25T13:59:00.000Z');
  return {
    requestId,
    baseKeyId,
    status: states[states.length - 1] ?? 'requested',
    steps: states.map((state, i) => ({ state, at: new Date(t0 + i * 1_000).toISOString() })),
    validity: { notBefore: '2021-08-25T13:59:00.000Z', notAfter: '2022-08-25T13:21:00.000Z', capped: false },
    keyId: null,
    failure: null,
    ...extra,
  };
}

/** A syntactically valid compact JWE (the gateway passes it through; only the agent can open it). */
export const sealedPassword = 'eyJhbGciOiJFQ0RILUVTIiwiZW5jIjoiQTI1NkdDTSJ9..bm9uY2Vub25jZW5v.Y2lwaGVydGV4dA.dGFndGFndGFndGFndGFn';
