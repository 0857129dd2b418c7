// The seed's flow through the HTTP API, as the cabinet does it: log in, list keys, preview, form a
// temporary hardware key with `base` validity, follow the progress stream, list again.
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { CompactEncrypt, importJWK } from 'jose';
import { DEMO_USER } from './stack.mjs';
import { kyiv, renderTable } from './kyiv-table.mjs';
import { sseReader } from './sse.mjs';

async function api(base, path, { token, method = 'GET', body, headers = {} } = {}) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  const data = text && (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text;
  if (!res.ok) { const e = new Error(`${method} ${path} → ${res.status} ${data?.code ?? ''}: ${data?.detail ?? data?.title ?? text}`); e.status = res.status; e.body = data; throw e; }
  return { status: res.status, data, headers: res.headers };
}

/** Seals a password to the agent's public key as the cabinet does: compact JWE, ECDH-ES + A256GCM. */
export async function sealTo(agentKey, password) {
  const key = await importJWK({ ...agentKey, alg: 'ECDH-ES' }, 'ECDH-ES');
  return new CompactEncrypt(new TextEncoder().encode(password)).setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM', ...(agentKey.kid ? { kid: agentKey.kid } : {}) }).encrypt(key);
}

/** Reads the SSE stream until the stream closes; returns the events. */
export async function followEvents(base, path, token, onEvent, timeoutMs = 180_000) {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${path} → ${res.status}`);
  const events = [];
  const read = sseReader((ev) => { events.push(ev); onEvent?.(ev); });
  const decoder = new TextDecoder();
  for await (const chunk of res.body) read(decoder.decode(chunk, { stream: true }));
  return events;
}

const STEP_UA = {
  requested: 'Запит прийнято', 'key-generating': 'Генерація ключа на токені', 'key-generated': 'Ключ згенеровано',
  'certificate-issuing': 'Формування сертифіката', 'certificate-issued': 'Сертифікат сформовано', installing: 'Запис сертифіката на токен',
  completed: 'Готово', compensating: 'Скасування виконаних кроків', failed: 'Помилка',
};

export async function runDemo(stack, log = console.log) {
  const base = stack.gatewayUrl;
  const secrets = JSON.parse(readFileSync(stack.token.secretsFile, 'utf8'));
  log('\n\x1b[1m1. Вхід до кабінету (dev)\x1b[0m');
  const { data: session } = await api(base, '/v1/dev/session', { method: 'POST', body: { rnokpp: DEMO_USER.rnokpp } });
  const token = session.accessToken;
  log(`   ${DEMO_USER.fullName}, РНОКПП ${DEMO_USER.rnokpp}`);

  log('\n\x1b[1m2. Ключі (до)\x1b[0m');
  const before = (await api(base, '/v1/keys?limit=50', { token })).data.items;
  log(renderTable(before));
  const cloud = before.find((k) => k.kind === 'cloud' && k.actions.includes('form-temporary-hardware-key'));
  if (!cloud) throw new Error('no cloud key offers «Сформувати тимчасовий апаратний ключ»');

  log('\n\x1b[1m3. Строк дії апаратного ключа: «До кінця дії основного сертифікату»\x1b[0m');
  const { data: preview } = await api(base, `/v1/keys/${cloud.id}/temporary-hardware-keys/preview?validity=base`, { token });
  log(`   з ${kyiv(preview.notBefore)} по ${kyiv(preview.notAfter)}${preview.capped ? ` (обмежено: ${preview.cappedBy})` : ''}`);

  log('\n\x1b[1m4. Токен\x1b[0m');
  const { data: tokens } = await api(base, '/v1/tokens', { token });
  const tok = tokens.items[0];
  if (!tok) throw new Error('no token online: is the token agent running?');
  log(`   ${tok.display}, PIN ${tok.userPinInitialized ? 'встановлено' : 'не встановлено'}`);
  const newPin = 'Demo-Token-1';
  const body = {
    validity: 'base', tokenId: tok.tokenId, cloudKeyPassword: DEMO_USER.cloudKeyPassword,
    newKeyPassword: await sealTo(tok.agentKey, newPin),
    ...(tok.userPinInitialized ? { currentTokenPassword: await sealTo(tok.agentKey, secrets.userPin ?? newPin) } : {}),
  };

  log('\n\x1b[1m5. Згенерувати\x1b[0m');
  const started = Date.now();
  const { data: accepted, headers } = await api(base, `/v1/keys/${cloud.id}/temporary-hardware-keys`, { token, method: 'POST', body, headers: { 'idempotency-key': randomUUID() } });
  log(`   202 ${headers.get('location')} (${accepted.status}), до ${kyiv(accepted.validity.notAfter)}`);
  const events = await followEvents(base, `/v1/hardware-key-requests/${accepted.requestId}/events`, token, (ev) => {
    log(`   ${String(Date.now() - started).padStart(5)} ms  ${STEP_UA[ev.json.status] ?? ev.json.status}${ev.json.failure ? `: ${ev.json.failure.code} — ${ev.json.failure.detail}` : ''}`);
  });
  const last = events.at(-1)?.json;
  if (last?.status !== 'completed') throw new Error(`the request ended ${last?.status ?? 'without a final event'}`);
  writeFileSync(stack.token.secretsFile, JSON.stringify({ ...secrets, userPin: newPin }, null, 2), { mode: 0o600 });
  // The key list is the accounts service's, updated from the saga's events: wait for the new row.
  const { data: request } = await api(base, `/v1/hardware-key-requests/${accepted.requestId}`, { token });
  for (let i = 0; i < 50; i++) {
    const { data: key } = await api(base, `/v1/keys/${request.keyId}`, { token });
    if (key.status === 'active') break;
    await new Promise((r) => setTimeout(r, 100));
  }

  log('\n\x1b[1m6. Ключі (після)\x1b[0m');
  const after = (await api(base, '/v1/keys?limit=50', { token })).data.items;
  log(renderTable(after));
  return { before, after, events, requestId: accepted.requestId };
}
