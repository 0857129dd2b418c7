import { ApiError } from './client.js';
import { answerMayBeLost, FormingRequest, sameInputs, type FormingInputs } from './forming-request.js';
import type { AgentKey } from './types.js';

const agentKey: AgentKey = { kty: 'EC', crv: 'P-256', x: 'x'.repeat(43), y: 'y'.repeat(43), kid: 'agent-1' };
const inputs: FormingInputs = {
  keyId: 'k-1', validity: 'P1W', tokenId: 't-1', agentKey,
  cloudKeyPassword: 'Cloud-1', newKeyPassword: 'Token-Pass-1', currentTokenPassword: null,
};
const refusal = (status: number, code: string) => new ApiError({ status, code });

/** A FormingRequest whose keys and seals are numbered, so that a new one is told from a reused one. */
function subject() {
  let keys = 0;
  const seals: string[] = [];
  const forming = new FormingRequest(
    async (key, password) => { seals.push(password); return `jwe(${key.kid}:${password}#${seals.length})`; },
    () => `key-${++keys}`,
  );
  return { forming, seals };
}

describe('FormingRequest', () => {
  it('builds the body from the inputs with the passwords sealed to the agent key', async () => {
    const { forming } = subject();
    const a = await forming.attempt({ ...inputs, currentTokenPassword: 'Old-Pin-1' });
    expect(a).toEqual({
      idempotencyKey: 'key-1',
      body: { validity: 'P1W', tokenId: 't-1', cloudKeyPassword: 'Cloud-1', newKeyPassword: 'jwe(agent-1:Token-Pass-1#1)', currentTokenPassword: 'jwe(agent-1:Old-Pin-1#2)' },
    });
    expect(Object.isFrozen(a.body)).toBe(true);
  });

  it('sends no current token password while the token has none', async () => {
    const { forming } = subject();
    expect(Object.keys((await forming.attempt(inputs)).body)).not.toContain('currentTokenPassword');
  });

  it.each([
    ['a network error', refusal(0, 'network')],
    ['503 service-unavailable', refusal(503, 'service-unavailable')],
    ['502 from a proxy', refusal(502, 'service-unavailable')],
    ['504 gateway timeout', refusal(504, 'service-unavailable')],
    ['429 rate-limited', refusal(429, 'rate-limited')],
    ['an unreadable answer', new SyntaxError('Unexpected end of JSON input')],
  ])('repeats the same key and the very same body (JWEs included) after %s', async (_, error) => {
    const { forming, seals } = subject();
    const first = await forming.attempt(inputs);
    forming.failed(first, error);
    expect(forming.pending).toBe(true);
    const again = await forming.attempt({ ...inputs, agentKey: { ...agentKey } });
    expect(again).toBe(first);
    expect(JSON.stringify(again.body)).toBe(JSON.stringify(first.body));
    expect(seals).toHaveLength(1);
  });

  it('keeps repeating it through several lost answers, then forgets it once accepted', async () => {
    const { forming } = subject();
    const first = await forming.attempt(inputs);
    forming.failed(first, refusal(0, 'network'));
    const second = await forming.attempt(inputs);
    forming.failed(second, refusal(503, 'service-unavailable'));
    const third = await forming.attempt(inputs);
    expect([second.idempotencyKey, third.idempotencyKey]).toEqual(['key-1', 'key-1']);
    forming.accepted(third);
    expect(forming.pending).toBe(false);
    expect((await forming.attempt(inputs)).idempotencyKey).toBe('key-2');
  });

  it.each([
    ['422 wrong-password', refusal(422, 'wrong-password')],
    ['423 key-access-blocked', refusal(423, 'key-access-blocked')],
    ['409 token-unavailable', refusal(409, 'token-unavailable')],
    ['409 idempotency-conflict', refusal(409, 'idempotency-conflict')],
    ['400 current-token-password-required', refusal(400, 'current-token-password-required')],
    ['400 validation-failed', refusal(400, 'validation-failed')],
  ])('makes a new key and seals afresh after a definite refusal (%s)', async (_, error) => {
    const { forming, seals } = subject();
    const first = await forming.attempt(inputs);
    forming.failed(first, error);
    expect(forming.pending).toBe(false);
    const next = await forming.attempt(inputs);
    expect(next.idempotencyKey).toBe('key-2');
    expect(next.body.newKeyPassword).not.toBe(first.body.newKeyPassword);
    expect(seals).toHaveLength(2);
  });

  it.each<[string, Partial<FormingInputs>]>([
    ['the cloud key password', { cloudKeyPassword: 'Cloud-2' }],
    ['the new key password', { newKeyPassword: 'Token-Pass-2' }],
    ['the current token password', { currentTokenPassword: 'Old-Pin-1' }],
    ['the token', { tokenId: 't-2' }],
    ['the validity', { validity: 'P1D' }],
    ['the key', { keyId: 'k-2' }],
    ['the agent key (the agent restarted)', { agentKey: { ...agentKey, x: 'z'.repeat(43) } }],
  ])('makes a new key when %s changed after a lost answer', async (_, change) => {
    const { forming } = subject();
    const first = await forming.attempt(inputs);
    forming.failed(first, refusal(0, 'network'));
    const next = await forming.attempt({ ...inputs, ...change });
    expect(next.idempotencyKey).toBe('key-2');
    // And the first one is gone: going back to the old inputs is a new request too.
    expect((await forming.attempt(inputs)).idempotencyKey).toBe('key-3');
  });

  it('keeps nothing when sealing fails', async () => {
    let fail = true;
    const forming = new FormingRequest(async () => { if (fail) throw new Error('no WebCrypto'); return 'jwe'; }, (() => { let n = 0; return () => `key-${++n}`; })());
    await expect(forming.attempt(inputs)).rejects.toThrow('no WebCrypto');
    expect(forming.pending).toBe(false);
    fail = false;
    expect((await forming.attempt(inputs)).idempotencyKey).toBe('key-1');
  });

  it('ignores the outcome of an attempt it no longer keeps', async () => {
    const { forming } = subject();
    const first = await forming.attempt(inputs);
    const second = await forming.attempt({ ...inputs, cloudKeyPassword: 'Cloud-2' });
    forming.accepted(first);
    forming.failed(first, refusal(422, 'wrong-password'));
    expect(forming.pending).toBe(true);
    expect(await forming.attempt({ ...inputs, cloudKeyPassword: 'Cloud-2' })).toBe(second);
  });

  it('uses random UUID keys by default', async () => {
    const forming = new FormingRequest(async () => 'jwe');
    expect((await forming.attempt(inputs)).idempotencyKey).toMatch(/^[0-9a-f-]{32,36}$/);
  });
});

describe('answerMayBeLost / sameInputs', () => {
  it('treats no answer, 5xx, 408 and 429 as unknown outcomes and other 4xx as refusals', () => {
    expect([0, 408, 429, 500, 502, 503, 504].map((s) => answerMayBeLost(refusal(s, 'x')))).toEqual(Array(7).fill(true));
    expect([400, 401, 403, 404, 409, 422, 423].map((s) => answerMayBeLost(refusal(s, 'x')))).toEqual(Array(7).fill(false));
  });

  it('compares the agent key by value', () => {
    expect(sameInputs(inputs, { ...inputs, agentKey: { ...agentKey } })).toBe(true);
    expect(sameInputs(inputs, { ...inputs, agentKey: { ...agentKey, kid: 'agent-2' } })).toBe(false);
  });
});
