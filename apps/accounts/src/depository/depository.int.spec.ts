import { jest } from '@jest/globals';
import { jetstreamManager } from '@nats-io/jetstream';
import { randomUUID } from 'node:crypto';
import { compactVerify, decodeProtectedHeader, importX509 } from 'jose';
import {
  AuthorizeTemporaryKeyV1, GetKeyCertificateV1, ListKeysV1, UnblockKeyAccessV1, temporaryKeyAuthorizationClaims, temporaryKeyAuthorizationHeader,
  type RpcRequest,
} from '@thk/contracts';
import { AppError } from '@thk/core';
import { readMetrics } from '@thk/testing';
import { PRODUCTION_KDF } from '../config/accounts.config.js';
import { eventually, startHarness, type Harness } from '../testing/accounts-harness.js';
import { createDevUser, publishFormed, publishRequested, temporaryRequest } from '../testing/events.js';
import { Depository, strongerKdf } from './depository.service.js';
import { KdfPool } from './kdf-pool.js';

const HOUR = 3_600_000;

/** The opened key, copied out of the depository's hands (it wipes its own). */
const openCopy = (depository: Depository, keyId: string, password: string) => depository.open(keyId, password, undefined, async (plain) => Buffer.from(plain));

describe('depository (AuthorizeTemporaryKey, lockout, sealed keys)', () => {
  let h: Harness;
  /** Every password this spec used: none may be found anywhere afterwards. */
  const passwords: string[] = [];
  beforeAll(async () => { h = await startHarness('accounts_depository'); });
  afterAll(async () => { await h?.stop(); });

  const user = async (overrides: Parameters<typeof createDevUser>[1] = {}) => {
    const u = await createDevUser(h, overrides);
    passwords.push(u.password);
    return u;
  };
  const authorize = (u: { userId: string; keyId: string }, password: string, extra: Partial<RpcRequest<typeof AuthorizeTemporaryKeyV1>> = {}) => {
    passwords.push(password);
    return h.rpc.call(AuthorizeTemporaryKeyV1, { userId: u.userId, baseKeyId: u.keyId, password, requestId: randomUUID(), validity: 'P1M', tokenSerial: '220771', ...extra });
  };
  const refusal = async (p: Promise<unknown>) => (await p.then(() => { throw new Error('expected a refusal'); }, (e: unknown) => e)) as AppError;
  const attempts = async (keyId: string) => ((await h.accounts.dataSource.query('SELECT failed_attempts FROM cloud_key_secrets WHERE key_id = $1', [keyId])) as Array<{ failed_attempts: number }>)[0]!.failed_attempts;

  describe('AuthorizeTemporaryKey', () => {
    it('times every password tried on /metrics (accounts_kdf_seconds), right or wrong', async () => {
      const kdf = async () => {
        const value = await readMetrics(h.accounts.url);
        return { count: value('accounts_kdf_seconds_count'), sum: value('accounts_kdf_seconds_sum') };
      };
      const u = await user();
      const before = await kdf();
      await authorize(u, u.password);
      await expect(authorize(u, 'wrong')).rejects.toMatchObject({ code: 'wrong-password' });
      const after = await kdf();
      expect(after.count - before.count).toBe(2);
      expect(after.sum).toBeGreaterThan(before.sum);
    });

    it('signs an ES256 authorization with the cloud key that verifies with the base certificate and carries exactly the claims', async () => {
      const u = await user({ fullName: 'Петренко Петро Петрович', organization: 'ТОВ Ромашка', edrpou: '12345678', position: 'Директор' });
      const requestId = randomUUID();
      const before = Math.floor(Date.now() / 1_000);
      const answer = await authorize(u, u.password, { requestId, validity: 'base' });

      const { der } = await h.rpc.call(GetKeyCertificateV1, { userId: u.userId, keyId: u.keyId });
      const header = temporaryKeyAuthorizationHeader.parse(decodeProtectedHeader(answer.authorization));
      expect(header).toEqual({ alg: 'ES256', typ: 'thk-authorization+jwt', x5c: [der] });
      const certificateKey = await importX509(`-----BEGIN CERTIFICATE-----\n${der}\n-----END CERTIFICATE-----`, 'ES256');
      const { payload } = await compactVerify(answer.authorization, certificateKey);
      const claims = temporaryKeyAuthorizationClaims.parse(JSON.parse(new TextDecoder().decode(payload)));
      expect(claims).toEqual({
        sub: u.userId, jti: requestId, baseKeyId: u.keyId, tokenSerial: '220771', validity: 'base',
        notAfterCap: answer.baseCertificate.notAfter, iat: claims.iat, exp: claims.iat + 300,
      });
      expect(claims.iat).toBeGreaterThanOrEqual(before);
      expect(claims.exp - claims.iat).toBeLessThanOrEqual(600);
      expect(answer.expiresAt).toBe(new Date(claims.exp * 1_000).toISOString());
      expect(answer.baseCertificate.der).toBe(der);
      expect(answer.owner).toEqual({ organization: 'ТОВ Ромашка', edrpou: '12345678', fullName: 'Петренко Петро Петрович', rnokpp: expect.stringMatching(/^\d{10}$/), position: 'Директор' });
      expect(answer.subject).toEqual({
        commonName: 'Петренко Петро Петрович', surname: 'Петренко', givenName: 'Петро Петрович', serialNumber: `TINUA-${answer.owner.rnokpp}`,
        organization: 'ТОВ Ромашка', organizationIdentifier: 'NTRUA-12345678', title: 'Директор', country: 'UA',
      });
      // A signature by another key does not verify with this certificate.
      const other = await user();
      const foreign = await authorize(other, other.password);
      await expect(compactVerify(foreign.authorization, certificateKey)).rejects.toThrow();
    });

    it('counts wrong passwords, locks after five in a row, refuses the right one while locked, and opens again after unblock', async () => {
      const u = await user();
      for (const remaining of [4, 3, 2, 1]) {
        const error = await refusal(authorize(u, 'not-the-password'));
        expect(error).toMatchObject({ code: 'wrong-password', meta: { remainingAttempts: remaining } });
        expect(JSON.stringify(error.toShape())).not.toContain('not-the-password');
      }
      await expect(authorize(u, 'still-not-it')).rejects.toMatchObject({ code: 'wrong-password', meta: { remainingAttempts: 0, accessBlocked: true } });
      await expect(authorize(u, u.password)).rejects.toMatchObject({ code: 'key-access-blocked' });
      await expect(authorize(u, 'guess')).rejects.toMatchObject({ code: 'key-access-blocked' });
      const listed = await h.rpc.call(ListKeysV1, { userId: u.userId, limit: 1, cursor: null });
      expect(listed.items[0]!.actions).toContain('activate-access');
      expect(listed.items[0]!.actions).not.toContain('form-temporary-hardware-key');

      await expect(h.rpc.call(UnblockKeyAccessV1, { keyId: u.keyId, operator: 'operator-1' })).resolves.toEqual({ keyId: u.keyId, unblocked: true });
      await expect(h.rpc.call(UnblockKeyAccessV1, { keyId: u.keyId, operator: 'operator-1' })).resolves.toEqual({ keyId: u.keyId, unblocked: false });
      await expect(authorize(u, u.password)).resolves.toMatchObject({ authorization: expect.any(String) });
    });

    it('resets the counter after a right password', async () => {
      const u = await user();
      await expect(authorize(u, 'wrong-1')).rejects.toMatchObject({ meta: { remainingAttempts: 4 } });
      await expect(authorize(u, 'wrong-2')).rejects.toMatchObject({ meta: { remainingAttempts: 3 } });
      await authorize(u, u.password);
      expect(await attempts(u.keyId)).toBe(0);
      await expect(authorize(u, 'wrong-3')).rejects.toMatchObject({ meta: { remainingAttempts: 4 } });
    });

    it('gives no authorization when the right password\'s counter reset cannot be written (it is signed meanwhile, answered only once the reset is durable)', async () => {
      const u = await user();
      await expect(authorize(u, 'wrong-1')).rejects.toMatchObject({ meta: { remainingAttempts: 4 } });
      const ds = h.accounts.dataSource;
      // A trigger refuses the reset of this key's counter (as a failing database would).
      await ds.query(`CREATE FUNCTION refuse_reset() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        IF NEW.failed_attempts = 0 AND OLD.failed_attempts > 0 AND NEW.key_id = '${u.keyId}' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$`);
      await ds.query('CREATE TRIGGER refuse_reset BEFORE UPDATE ON cloud_key_secrets FOR EACH ROW EXECUTE FUNCTION refuse_reset()');
      try {
        const error = await refusal(authorize(u, u.password));
        expect(error.code).not.toBe('wrong-password');
        expect((error as unknown as Record<string, unknown>)['authorization']).toBeUndefined();
      } finally {
        await ds.query('DROP TRIGGER refuse_reset ON cloud_key_secrets');
        await ds.query('DROP FUNCTION refuse_reset()');
      }
      await expect(authorize(u, u.password)).resolves.toMatchObject({ authorization: expect.any(String) });
      expect(await attempts(u.keyId)).toBe(0);
    });

    it('counts the attempt in the statement that reads the key: one statement before the KDF, whatever the verdict', async () => {
      const u = await user();
      // Through TypeORM, or prepared on its pg pool (`queryPrepared`): every statement, in order.
      const query = jest.spyOn(h.accounts.dataSource, 'query');
      const prepared = jest.spyOn((h.accounts.dataSource.driver as unknown as { master: { query(config: { text: string }): Promise<unknown> } }).master, 'query');
      try {
        for (const password of ['wrong-1', u.password]) {
          query.mockClear();
          prepared.mockClear();
          await authorize(u, password).catch(() => undefined);
          const calls = [
            ...query.mock.calls.map(([sql], i) => ({ sql: String(sql), order: query.mock.invocationCallOrder[i]! })),
            ...prepared.mock.calls.map(([config], i) => ({ sql: config.text, order: prepared.mock.invocationCallOrder[i]! })),
          ];
          const statements = calls.sort((a, b) => a.order - b.order).map((c) => c.sql.replace(/\s+/g, ' '));
          expect(statements[0]).toMatch(/^WITH k AS .* counted AS \( UPDATE cloud_key_secrets SET failed_attempts = failed_attempts \+ 1/);
          // No second count: the depository opened the record the statement returned.
          expect(statements.slice(1).filter((q) => /failed_attempts = failed_attempts \+ 1/.test(q))).toEqual([]);
        }
      } finally {
        query.mockRestore();
        prepared.mockRestore();
      }
      expect(await attempts(u.keyId)).toBe(0);
    });

    it('refuses a tampered sealed key as an integrity failure that costs no attempt', async () => {
      const u = await user();
      await h.accounts.dataSource.query(`UPDATE cloud_key_secrets SET sealed = overlay(sealed placing decode(lpad(to_hex(get_byte(sealed, 40) # 1), 2, '0'), 'hex') from 41 for 1) WHERE key_id = $1`, [u.keyId]);
      await expect(authorize(u, u.password)).rejects.toMatchObject({ code: 'depository.integrity', retryable: false });
      expect(await attempts(u.keyId)).toBe(0);
    });

    it('answers not-found for another user\'s key, exactly as for a missing one, before any password check', async () => {
      const u = await user();
      const stranger = await user();
      const foreign = await refusal(authorize({ userId: stranger.userId, keyId: u.keyId }, u.password));
      const missing = await refusal(authorize({ userId: stranger.userId, keyId: randomUUID() }, u.password));
      expect(foreign.toShape()).toEqual({ ...missing.toShape(), meta: { keyId: u.keyId } });
      expect(foreign.code).toBe('not-found');
      expect(await attempts(u.keyId)).toBe(0);
    });

    it('answers key-not-eligible for an expired cloud key and for a temporary key, before any password check', async () => {
      const expired = await user({ certificate: { notBefore: new Date(Date.now() - 48 * HOUR).toISOString(), notAfter: new Date(Date.now() - HOUR).toISOString() } });
      await expect(authorize(expired, 'wrong')).rejects.toMatchObject({ code: 'key-not-eligible', meta: { status: 'expired' } });
      expect(await attempts(expired.keyId)).toBe(0);

      const base = await user();
      const r = temporaryRequest(base);
      await publishRequested(h, r);
      await publishFormed(h, r);
      await h.settleIssuance();
      await expect(authorize({ userId: base.userId, keyId: r.keyAccountId }, base.password)).rejects.toMatchObject({ code: 'key-not-eligible' });
    });

    it('answers key-not-eligible once the clock passes the base certificate\'s end', async () => {
      const u = await user({ certificate: { notBefore: new Date(Date.now() - HOUR).toISOString(), notAfter: new Date(Date.now() + HOUR).toISOString() } });
      h.clock.advance(2 * HOUR);
      try {
        await expect(authorize(u, u.password)).rejects.toMatchObject({ code: 'key-not-eligible' });
      } finally {
        h.clock.reset();
      }
    });
  });

  describe('a lockout left unfinished (the process died between counting an attempt and its verdict)', () => {
    const secret = async (keyId: string) => ((await h.accounts.dataSource.query(
      'SELECT failed_attempts, access_blocked_at IS NOT NULL AS blocked FROM cloud_key_secrets WHERE key_id = $1', [keyId],
    )) as Array<{ failed_attempts: number; blocked: boolean }>)[0]!;

    it('completes the lockout instead of answering busy forever once no check can still be running', async () => {
      const u = await user();
      await h.accounts.dataSource.query(
        `UPDATE cloud_key_secrets SET failed_attempts = 5, access_blocked_at = NULL, updated_at = now() - interval '10 minutes' WHERE key_id = $1`, [u.keyId],
      );
      await expect(authorize(u, u.password)).rejects.toMatchObject({ code: 'key-access-blocked' });
      expect(await secret(u.keyId)).toEqual({ failed_attempts: 5, blocked: true });
      await expect(authorize(u, 'a-guess')).rejects.toMatchObject({ code: 'key-access-blocked' });
      const listed = await h.rpc.call(ListKeysV1, { userId: u.userId, limit: 1, cursor: null });
      expect(listed.items[0]!.actions).toContain('activate-access');

      await h.rpc.call(UnblockKeyAccessV1, { keyId: u.keyId, operator: 'operator-1' });
      await expect(authorize(u, u.password)).resolves.toMatchObject({ authorization: expect.any(String) });
    });

    it('still answers busy while the attempts counted a moment ago may be in flight, and locks once they are stale', async () => {
      const u = await user();
      await h.accounts.dataSource.query(`UPDATE cloud_key_secrets SET failed_attempts = 5, access_blocked_at = NULL, updated_at = now() WHERE key_id = $1`, [u.keyId]);
      await expect(authorize(u, u.password)).rejects.toMatchObject({ code: 'busy', retryable: true });
      expect(await secret(u.keyId)).toEqual({ failed_attempts: 5, blocked: false });
      h.clock.advance(2 * 60_000);
      try {
        await expect(authorize(u, u.password)).rejects.toMatchObject({ code: 'key-access-blocked' });
      } finally {
        h.clock.reset();
      }
      expect(await secret(u.keyId)).toEqual({ failed_attempts: 5, blocked: true });
    });
  });

  describe('raising stored KDF parameters', () => {
    const stored = async (keyId: string) => ((await h.accounts.dataSource.query('SELECT kdf, kek_id, sealed, failed_attempts FROM cloud_key_secrets WHERE key_id = $1', [keyId])) as Array<{
      kdf: { alg: string; log2N: number; r: number; p: number; salt: string }; kek_id: string; sealed: Buffer; failed_attempts: number;
    }>)[0]!;

    it('re-seals a record with weaker parameters at the configured strength after a right password, and never lowers them', async () => {
      const u = await user(); // sealed by the service at the test strength (N = 2^10)
      const before = await stored(u.keyId);
      expect(before.kdf).toMatchObject({ log2N: 10, r: 8, p: 1 });
      await expect(authorize(u, 'wrong-before-upgrade')).rejects.toMatchObject({ code: 'wrong-password' });

      const stronger = new Depository(h.accounts.dataSource, new KdfPool(1, 4), { kdf: { log2N: 11, r: 8, p: 2 }, kek: h.config.kek, maxAttempts: 5 }, () => new Date());
      const original = await openCopy(stronger, u.keyId, u.password);
      const after = await stored(u.keyId);
      expect(after.kdf).toMatchObject({ alg: 'scrypt', log2N: 11, r: 8, p: 2 });
      expect(after.kdf.salt).not.toBe(before.kdf.salt);
      expect(after.sealed.equals(before.sealed)).toBe(false);
      expect(after.failed_attempts).toBe(0);

      // The same private key opens from the new record, with the same password only.
      await expect(openCopy(stronger, u.keyId, u.password)).resolves.toEqual(original);
      expect((await stored(u.keyId)).sealed.equals(after.sealed)).toBe(true); // already strong enough: not sealed again
      await expect(authorize(u, 'wrong-after-upgrade')).rejects.toMatchObject({ code: 'wrong-password', meta: { remainingAttempts: 4 } });
      await expect(authorize(u, u.password)).resolves.toMatchObject({ authorization: expect.any(String) });

      // The service itself is configured at N = 2^10: opening does not lower the record.
      const final = await stored(u.keyId);
      expect(final.kdf).toMatchObject({ log2N: 11, r: 8, p: 2 });
      expect(final.sealed.equals(after.sealed)).toBe(true);
      original.fill(0);
    });

    it('raises each parameter to the larger of stored and configured', () => {
      expect(strongerKdf({ log2N: 17, r: 8, p: 1 }, { log2N: 17, r: 8, p: 1 })).toBeNull();
      expect(strongerKdf({ log2N: 18, r: 8, p: 1 }, { log2N: 17, r: 8, p: 1 })).toBeNull();
      expect(strongerKdf({ log2N: 14, r: 8, p: 1 }, { log2N: 17, r: 8, p: 1 })).toEqual({ log2N: 17, r: 8, p: 1 });
      expect(strongerKdf({ log2N: 18, r: 4, p: 1 }, { log2N: 17, r: 8, p: 1 })).toEqual({ log2N: 18, r: 8, p: 1 });
    });
  });

  describe('production KDF strength (scrypt N=2^17, r=8, p=1)', () => {
    it('seals and opens at full strength, stores its parameters, and answers busy beyond the pool bound', async () => {
      const pool = new KdfPool(1, 0);
      const depository = new Depository(h.accounts.dataSource, pool, { kdf: PRODUCTION_KDF, kek: h.config.kek, maxAttempts: 5 }, () => new Date());
      const u = await user();
      const pkcs8 = Buffer.from('302e020100300506032b657004220420' + 'ab'.repeat(32), 'hex');
      const password = `Prod-${randomUUID()}`;
      passwords.push(password);
      const sealed = await depository.seal(u.keyId, pkcs8, password);
      expect(sealed.kdf).toMatchObject({ alg: 'scrypt', log2N: 17, r: 8, p: 1 });
      await h.accounts.dataSource.query('UPDATE cloud_key_secrets SET kdf = $2, sealed = $3 WHERE key_id = $1', [u.keyId, JSON.stringify(sealed.kdf), sealed.sealed]);

      const other = await user();
      let openingSettled = false;
      const opening = openCopy(depository, u.keyId, password).finally(() => { openingSettled = true; });
      await eventually(async () => pool.active, (n) => n === 1);
      // One KDF runs and nothing may wait: a second caller hears busy while the first is still deriving.
      const busy = await refusal(depository.open(other.keyId, other.password, undefined, async () => undefined));
      expect(busy).toMatchObject({ code: 'busy', retryable: true });
      expect(openingSettled).toBe(false);
      await expect(opening).resolves.toEqual(pkcs8);
      expect(await attempts(other.keyId)).toBe(0);
    });
  });

  describe('secrets at rest', () => {
    it('leaves no password bytes in any table or stream after the run', async () => {
      expect(passwords.length).toBeGreaterThan(10);
      const needles = passwords.flatMap((p) => [p, Buffer.from(p).toString('hex'), Buffer.from(p).toString('base64')]);
      const tables: Array<{ table_name: string }> = await h.accounts.dataSource.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`);
      expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(['users', 'key_accounts', 'cloud_key_secrets', 'agents', 'outbox', 'inbox']));
      let rowsScanned = 0;
      for (const { table_name } of tables) {
        const rows: Array<{ t: string }> = await h.accounts.dataSource.query(`SELECT t::text AS t FROM "${table_name}" t`);
        rowsScanned += rows.length;
        for (const { t } of rows) for (const needle of needles) expect(t.includes(needle) ? `${table_name}: ${needle}` : null).toBeNull();
      }
      expect(rowsScanned).toBeGreaterThan(20);
      await h.accounts.flushOutbox();
      const jsm = await jetstreamManager(h.nc);
      for await (const stream of jsm.streams.list()) {
        for (let seq = stream.state.first_seq; stream.state.messages > 0 && seq <= stream.state.last_seq; seq++) {
          const m = await jsm.streams.getMessage(stream.config.name, { seq }); // null for a deleted sequence; any other error fails the test
          if (!m) continue;
          const text = new TextDecoder().decode(m.data);
          for (const needle of needles) expect(text.includes(needle) ? `${stream.config.name}#${seq}` : null).toBeNull();
        }
      }
    });
  });
});
