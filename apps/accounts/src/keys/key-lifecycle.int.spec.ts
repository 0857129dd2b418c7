import { jetstreamManager } from '@nats-io/jetstream';
import {
  BlockKeyV1, CertificateRevokedV1, GetKeyV1, HardwareKeyRequestedV1, ListKeysV1, RevokeCertificateV1, TemporaryHardwareKeyFormedV1,
  type Envelope, type KeyStatusChangedV1,
} from '@thk/contracts';
import { startHarness, type Harness } from '../testing/accounts-harness.js';
import { createDevUser, publishFailed, publishFormed, publishRequested, temporaryRequest } from '../testing/events.js';
import { CA_EVENTS_DURABLE } from './hardware-key-events.service.js';

const HOUR = 3_600_000;

describe('key lifecycle (issuance and CA events, expiry sweep, cascade)', () => {
  let h: Harness;
  beforeAll(async () => { h = await startHarness('accounts_lifecycle'); });
  afterAll(async () => { await h?.stop(); });
  afterEach(() => h.clock.reset());

  const settleIssuance = () => h.settleIssuance();
  const settleCa = () => h.settle('CA', CA_EVENTS_DURABLE);
  const row = async (id: string) => {
    const rows: Array<Record<string, unknown>> = await h.accounts.dataSource.query('SELECT status, status_reason, failure_code, version, cert_serial, token_serial, owner_full_name, owner_rnokpp FROM key_accounts WHERE id = $1', [id]);
    return rows[0];
  };
  const eventsFor = async (keyId: string): Promise<KeyStatusChangedV1[]> => (await h.statusEvents()).filter((e) => e.keyId === keyId);
  const transitions = async (keyId: string) => (await eventsFor(keyId)).map((e) => `${e.previousStatus ?? '∅'}→${e.status}${e.reason ? ` (${e.reason})` : ''}`);
  const revokeCommands = async () => {
    const jsm = await jetstreamManager(h.nc);
    const info = await jsm.streams.info('CA');
    const found: Array<Envelope<RevokeCertificateV1>> = [];
    for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage('CA', { seq }); // null for a deleted sequence; any other error fails the test
      if (m?.subject === RevokeCertificateV1.subject()) found.push(m.json());
    }
    return found;
  };

  describe('HardwareKeyRequested → TemporaryHardwareKeyFormed', () => {
    it('shows a pending row with the base key owner and token, then the active key with its certificate', async () => {
      const base = await createDevUser(h, { fullName: 'Петренко Петро Петрович', organization: 'ТОВ Ромашка', edrpou: '12345678', position: 'Директор' });
      const r = temporaryRequest(base);
      await publishRequested(h, r);
      await settleIssuance();
      const pending = await h.rpc.call(GetKeyV1, { userId: base.userId, keyId: r.keyAccountId });
      expect(pending.key).toMatchObject({
        status: 'pending', kind: 'hardware', temporary: true, baseKeyId: base.keyId, certificate: null, actions: ['view-application'],
        owner: { fullName: 'Петренко Петро Петрович', organization: 'ТОВ Ромашка', edrpou: '12345678', position: 'Директор' },
        token: { serial: '220771', model: 'е.ключ IIT Алмаз-1К', label: '220771' },
      });

      const { issued } = await publishFormed(h, r);
      await settleIssuance();
      const { key } = await h.rpc.call(GetKeyV1, { userId: base.userId, keyId: r.keyAccountId });
      expect(key).toMatchObject({ status: 'active', certificate: issued.summary });
      expect(await transitions(r.keyAccountId)).toEqual(['∅→pending', 'pending→active']);
      const listed = await h.rpc.call(ListKeysV1, { userId: base.userId, limit: 10, cursor: null });
      expect(listed.items.map((k) => k.id)).toEqual([r.keyAccountId, base.keyId]);
    });

    it('changes nothing twice when every event is delivered again beyond JetStream de-duplication', async () => {
      const base = await createDevUser(h);
      const r = temporaryRequest(base);
      const requested = await publishRequested(h, r);
      await settleIssuance();
      const { envelope: formed } = await publishFormed(h, r);
      await settleIssuance();
      const before = await row(r.keyAccountId);
      await h.republish(HardwareKeyRequestedV1.subject(), requested);
      await h.republish(TemporaryHardwareKeyFormedV1.subject(), formed);
      await settleIssuance();
      expect(await row(r.keyAccountId)).toEqual(before);
      expect(await transitions(r.keyAccountId)).toEqual(['∅→pending', 'pending→active']);
    });

    it('ends in the same state when formed arrives before requested', async () => {
      const base = await createDevUser(h);
      const r = temporaryRequest(base);
      await publishFormed(h, r);
      await settleIssuance();
      await publishRequested(h, r);
      await settleIssuance();
      expect(await row(r.keyAccountId)).toMatchObject({ status: 'active', token_serial: '220771' });
      expect(await transitions(r.keyAccountId)).toEqual(['∅→active']);
    });
  });

  describe('HardwareKeyRequestFailed', () => {
    it('turns the pending row failed with the code, once, and a late formed does not revive it', async () => {
      const base = await createDevUser(h);
      const r = temporaryRequest(base);
      await publishRequested(h, r);
      await settleIssuance();
      const failed = await publishFailed(h, r, 'wrong-token-password');
      await settleIssuance();
      await h.republish('issuance.evt.hardware-key-request-failed.v1', failed);
      await publishFormed(h, r);
      await settleIssuance();
      expect(await row(r.keyAccountId)).toMatchObject({ status: 'failed', failure_code: 'wrong-token-password', status_reason: 'wrong-token-password' });
      expect(await transitions(r.keyAccountId)).toEqual(['∅→pending', 'pending→failed (wrong-token-password)']);
    });
  });

  describe('expiry', () => {
    it('reads expired past notAfter at once, and the sweep persists it for the base key and its temporary keys, once', async () => {
      const now = Date.now();
      const base = await createDevUser(h, { certificate: { notBefore: new Date(now - HOUR).toISOString(), notAfter: new Date(now + 2 * HOUR).toISOString() } });
      const r = temporaryRequest(base);
      await publishRequested(h, r);
      await settleIssuance();
      await publishFormed(h, r, { notAfter: new Date(now + HOUR) });
      await settleIssuance();

      h.clock.advance(90 * 60_000); // the temporary key has ended, the base has not
      const midway = await h.rpc.call(ListKeysV1, { userId: base.userId, limit: 10, cursor: null });
      expect(midway.items.map((k) => [k.id, k.status])).toEqual([[r.keyAccountId, 'expired'], [base.keyId, 'active']]);
      expect(await row(r.keyAccountId)).toMatchObject({ status: 'active' });

      h.clock.advance(HOUR); // both have ended
      expect(await h.accounts.sweepExpired()).toBeGreaterThanOrEqual(2);
      expect(await h.accounts.sweepExpired()).toBe(0);
      expect(await row(base.keyId)).toMatchObject({ status: 'expired', status_reason: 'certificate-expired' });
      expect(await row(r.keyAccountId)).toMatchObject({ status: 'expired', status_reason: 'certificate-expired' });
      expect(await transitions(base.keyId)).toEqual(['∅→active', 'active→expired (certificate-expired)']);
      expect(await transitions(r.keyAccountId)).toEqual(['∅→pending', 'pending→active', 'active→expired (certificate-expired)']);
    });
  });

  describe('cascade from a base key', () => {
    it('blocks the temporary keys of a blocked base key with the reason, and a key formed afterwards follows at once', async () => {
      const base = await createDevUser(h);
      const formedBefore = temporaryRequest(base);
      const stillPending = temporaryRequest(base);
      await publishRequested(h, formedBefore);
      await settleIssuance();
      await publishFormed(h, formedBefore);
      await publishRequested(h, stillPending);
      await settleIssuance();

      await expect(h.rpc.call(BlockKeyV1, { keyId: base.keyId, operator: 'operator-1', reason: 'court order' })).resolves.toEqual({ keyId: base.keyId, status: 'blocked', changed: true });
      await expect(h.rpc.call(BlockKeyV1, { keyId: base.keyId, operator: 'operator-1', reason: 'court order' })).resolves.toMatchObject({ changed: false });
      expect(await row(formedBefore.keyAccountId)).toMatchObject({ status: 'blocked', status_reason: 'base-key-blocked' });
      expect(await row(stillPending.keyAccountId)).toMatchObject({ status: 'pending' });

      await publishFormed(h, stillPending);
      await settleIssuance();
      expect(await row(stillPending.keyAccountId)).toMatchObject({ status: 'blocked', status_reason: 'base-key-blocked' });
      expect(await transitions(stillPending.keyAccountId)).toEqual(['∅→pending', 'pending→active', 'active→blocked (base-key-blocked)']);
      const { key } = await h.rpc.call(GetKeyV1, { userId: base.userId, keyId: base.keyId });
      expect(key).toMatchObject({ status: 'blocked' });
      expect(key.actions).not.toContain('form-temporary-hardware-key');
    });

    it('revokes the certificates of the temporary keys (RevokeCertificate to the CA) when the base certificate is revoked', async () => {
      const base = await createDevUser(h);
      const r = temporaryRequest(base);
      await publishRequested(h, r);
      await settleIssuance();
      const { issued } = await publishFormed(h, r);
      await settleIssuance();
      const baseSerial = (await row(base.keyId))!['cert_serial'] as string;

      const revoked = await h.publish(CertificateRevokedV1, { serialNumber: `00${baseSerial}`, reason: 'keyCompromise', revokedAt: new Date().toISOString() });
      await settleCa();
      await h.republish(CertificateRevokedV1.subject(), revoked);
      await settleCa();

      expect(await row(base.keyId)).toMatchObject({ status: 'revoked', status_reason: 'certificate-revoked:keyCompromise' });
      expect(await row(r.keyAccountId)).toMatchObject({ status: 'revoked', status_reason: 'base-key-revoked' });
      await expect(h.rpc.call(GetKeyV1, { userId: base.userId, keyId: base.keyId })).resolves.toMatchObject({ key: { status: 'revoked' }, certificateRevoked: true });
      await h.accounts.flushOutbox();
      const commands = (await revokeCommands()).filter((c) => c.data.serialNumber === issued.summary.serialNumber);
      expect(commands).toHaveLength(1);
      expect(commands[0]!.data).toMatchObject({ reason: 'cessationOfOperation', requestedBy: 'accounts:base-key-revoked' });
      expect(await transitions(base.keyId)).toEqual(['∅→active', 'active→revoked (certificate-revoked:keyCompromise)']);

      // The CA then confirms the temporary key's revocation: nothing changes twice.
      await h.publish(CertificateRevokedV1, { serialNumber: issued.summary.serialNumber, reason: 'cessationOfOperation', revokedAt: new Date().toISOString() });
      await settleCa();
      expect(await transitions(r.keyAccountId)).toEqual(['∅→pending', 'pending→active', 'active→revoked (base-key-revoked)']);
      await expect(h.rpc.call(GetKeyV1, { userId: base.userId, keyId: r.keyAccountId })).resolves.toMatchObject({ certificateRevoked: true });
    });

    it('revokes the certificates of blocked temporary keys too when a blocked base key is revoked, and of a pending one once it is formed', async () => {
      const base = await createDevUser(h);
      const first = temporaryRequest(base);
      const second = temporaryRequest(base);
      const pending = temporaryRequest(base);
      for (const r of [first, second, pending]) await publishRequested(h, r);
      await settleIssuance();
      const { issued: firstCert } = await publishFormed(h, first);
      const { issued: secondCert } = await publishFormed(h, second);
      await settleIssuance();

      await h.rpc.call(BlockKeyV1, { keyId: base.keyId, operator: 'operator-1', reason: 'court order' });
      expect(await row(first.keyAccountId)).toMatchObject({ status: 'blocked', status_reason: 'base-key-blocked' });
      expect(await row(second.keyAccountId)).toMatchObject({ status: 'blocked', status_reason: 'base-key-blocked' });

      const baseSerial = (await row(base.keyId))!['cert_serial'] as string;
      const revoked = await h.publish(CertificateRevokedV1, { serialNumber: baseSerial, reason: 'keyCompromise', revokedAt: new Date().toISOString() });
      await settleCa();
      await h.republish(CertificateRevokedV1.subject(), revoked);
      await settleCa();

      expect(await row(base.keyId)).toMatchObject({ status: 'revoked', status_reason: 'certificate-revoked:keyCompromise' });
      for (const r of [first, second]) {
        expect(await row(r.keyAccountId)).toMatchObject({ status: 'revoked', status_reason: 'base-key-revoked' });
        expect(await transitions(r.keyAccountId)).toEqual(['∅→pending', 'pending→active', 'active→blocked (base-key-blocked)', 'blocked→revoked (base-key-revoked)']);
      }
      expect(await row(pending.keyAccountId)).toMatchObject({ status: 'pending' });
      const commandsFor = async (serial: string) => {
        await h.accounts.flushOutbox();
        return (await revokeCommands()).filter((c) => c.data.serialNumber === serial);
      };
      for (const cert of [firstCert, secondCert]) {
        const commands = await commandsFor(cert.summary.serialNumber);
        expect(commands).toHaveLength(1);
        expect(commands[0]!.data).toMatchObject({ reason: 'cessationOfOperation', requestedBy: 'accounts:base-key-revoked', comment: `base key ${base.keyId} was revoked` });
      }

      // The pending key is formed after its base was revoked: its certificate is revoked at once.
      const { issued: lateCert } = await publishFormed(h, pending);
      await settleIssuance();
      expect(await row(pending.keyAccountId)).toMatchObject({ status: 'revoked', status_reason: 'base-key-revoked' });
      expect(await commandsFor(lateCert.summary.serialNumber)).toHaveLength(1);

      // The CA confirms each revocation: no second command, no second transition.
      for (const cert of [firstCert, secondCert, lateCert]) {
        await h.publish(CertificateRevokedV1, { serialNumber: cert.summary.serialNumber, reason: 'cessationOfOperation', revokedAt: new Date().toISOString() });
      }
      await settleCa();
      for (const cert of [firstCert, secondCert, lateCert]) expect(await commandsFor(cert.summary.serialNumber)).toHaveLength(1);
      expect(await transitions(first.keyAccountId)).toHaveLength(4);
      await expect(h.rpc.call(GetKeyV1, { userId: base.userId, keyId: second.keyAccountId })).resolves.toMatchObject({ key: { status: 'revoked' }, certificateRevoked: true });
    });
  });
});
