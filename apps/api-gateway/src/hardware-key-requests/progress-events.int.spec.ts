import { randomUUID } from 'node:crypto';
import { GetHardwareKeyRequestV1, type HardwareKeyRequestStatus, type HardwareKeyRequestView } from '@thk/contracts';
import { AppError } from '@thk/core';
import { startApiGateway, type RunningApiGateway } from '../api-gateway.app.js';
import { requestViewFixture } from '../testing/fixtures.js';
import { expectProblem, startHarness, testConfig, type Harness } from '../testing/gateway-harness.js';
import { openSse } from '../testing/sse-client.js';

const happyPath: HardwareKeyRequestStatus[] = ['requested', 'key-generating', 'key-generated', 'certificate-issuing', 'certificate-issued', 'installing', 'completed'];
const at = (seq: number) => new Date(Date.parse('2021-08-25T13:59:00.000Z') + (seq - 1) * 1_000).toISOString();

describe('api-gateway: the progress stream (SSE)', () => {
  let h: Harness;
  const userId = randomUUID();
  let bearer: string;
  /** Issuance's state as the test participant answers GetHardwareKeyRequest. */
  const requests = new Map<string, { userId: string; view: HardwareKeyRequestView }>();

  const createRequest = (states: HardwareKeyRequestStatus[], owner = userId, extra: Partial<HardwareKeyRequestView> = {}) => {
    const requestId = randomUUID();
    requests.set(requestId, { userId: owner, view: requestViewFixture(requestId, randomUUID(), states, extra) });
    return requestId;
  };
  /** Issuance moves the saga on: its state first, then the progress event (outbox after commit). */
  const progress = async (requestId: string, seq: number, status: HardwareKeyRequestStatus, extra: { keyId?: string | null; failure?: HardwareKeyRequestView['failure']; publish?: boolean } = {}) => {
    const r = requests.get(requestId)!;
    r.view = { ...r.view, status, steps: [...r.view.steps.slice(0, seq - 1), { state: status, at: at(seq) }], keyId: extra.keyId ?? r.view.keyId, failure: extra.failure ?? r.view.failure };
    if (extra.publish === false) return;
    await h.participants.publishProgress({ requestId, userId: r.userId, sequence: seq, status, at: at(seq), keyId: extra.keyId ?? null, failure: extra.failure ?? null });
  };
  const events = (requestId: string, headers: Record<string, string> = {}, gateway: { url: string } = h.gateway) =>
    openSse(`${gateway.url}/v1/hardware-key-requests/${requestId}/events`, { authorization: bearer, ...headers });

  beforeAll(async () => {
    h = await startHarness((url, idp) => testConfig(url, { auth: { publicKeyPem: idp.publicKeyPem }, progress: { bufferedRequests: 100, heartbeatMs: 200, maxStreamMs: 60_000 } }));
    bearer = `Bearer ${await h.idp.token(userId)}`;
    h.participants.answer(GetHardwareKeyRequestV1, ({ userId: u, requestId }) => {
      const r = requests.get(requestId);
      if (!r || r.userId !== u) throw new AppError('not-found', 'no such request');
      return r.view;
    });
  });
  afterAll(async () => { await h.close(); });

  describe('GET /v1/hardware-key-requests/{requestId}', () => {
    it('answers the request view', async () => {
      const requestId = createRequest(['requested', 'key-generating']);
      const res = await h.http({ url: `/v1/hardware-key-requests/${requestId}`, headers: { authorization: bearer } });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual(requests.get(requestId)!.view);
    });

    it('answers another user\'s request 404', async () => {
      const requestId = createRequest(['requested'], randomUUID());
      expectProblem(await h.http({ url: `/v1/hardware-key-requests/${requestId}`, headers: { authorization: bearer } }), 404, 'not-found');
    });
  });

  describe('GET /v1/hardware-key-requests/{requestId}/events', () => {
    it('sends one event per state change in order, with id = sequence, and closes after completed', async () => {
      const requestId = createRequest(['requested']);
      const stream = await events(requestId);
      expect(stream.status).toBe(200);
      expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
      expect(stream.headers['cache-control']).toContain('no-cache');
      const first = await stream.next();
      expect(first).toMatchObject({ id: '1' });
      const keyId = randomUUID();
      for (let seq = 2; seq <= happyPath.length; seq++) {
        await progress(requestId, seq, happyPath[seq - 1]!, seq === happyPath.length ? { keyId } : {});
      }
      const rest = await stream.untilClosed();
      const all = [first!, ...rest];
      expect(all.map((e) => e.id)).toEqual(['1', '2', '3', '4', '5', '6', '7']);
      const data = all.map((e) => JSON.parse(e.data));
      expect(data.map((d) => d.status)).toEqual(happyPath);
      expect(data[6]).toEqual({ requestId, sequence: 7, status: 'completed', at: at(7), keyId, failure: null });
      expect(data[0]).toEqual({ requestId, sequence: 1, status: 'requested', at: at(1), keyId: null, failure: null });
      expect(stream.raw).toMatch(/^retry: \d+\n\n/);
    });

    it('closes after failed, with the failure in the last event', async () => {
      const requestId = createRequest(['requested']);
      const stream = await events(requestId);
      await progress(requestId, 2, 'key-generating');
      await progress(requestId, 3, 'compensating');
      const failure = { code: 'agent-timeout' as const, detail: 'the signing agent did not answer in time' };
      await progress(requestId, 4, 'failed', { failure });
      const all = await stream.untilClosed();
      expect(all.map((e) => e.id)).toEqual(['1', '2', '3', '4']);
      expect(JSON.parse(all[3]!.data)).toEqual({ requestId, sequence: 4, status: 'failed', at: at(4), keyId: null, failure });
    });

    it('resumes after Last-Event-ID: replays what was missed, then follows live', async () => {
      const requestId = createRequest(['requested']);
      for (let seq = 2; seq <= 5; seq++) await progress(requestId, seq, happyPath[seq - 1]!);
      const first = await events(requestId);
      const seen = [await first.next(), await first.next(), await first.next()];
      expect(seen.map((e) => e!.id)).toEqual(['1', '2', '3']);
      first.close();
      const resumed = await events(requestId, { 'last-event-id': '3' });
      expect((await resumed.next())!.id).toBe('4');
      expect((await resumed.next())!.id).toBe('5');
      await progress(requestId, 6, 'installing');
      await progress(requestId, 7, 'completed', { keyId: randomUUID() });
      const rest = await resumed.untilClosed();
      expect(rest.map((e) => e.id)).toEqual(['6', '7']);
    });

    it('asks issuance nothing when this replica\'s feed holds the request\'s events from the first on, and asks it when the first is missing', async () => {
      const fromStart = createRequest(['requested']);
      const later = createRequest(['requested']);
      await progress(fromStart, 1, 'requested');
      await progress(fromStart, 2, 'key-generating');
      await progress(later, 2, 'key-generating');
      const buffered = (id: string, n: number) => async () => {
        for (let i = 0; i < 100 && h.gateway.context.feed.snapshot(id, userId).length < n; i++) await new Promise((r) => setTimeout(r, 20));
      };
      await buffered(fromStart, 2)();
      await buffered(later, 1)();
      const queries = () => h.participants.callsTo(GetHardwareKeyRequestV1).length;
      const before = queries();
      const stream = await events(fromStart);
      expect([(await stream.next())!.id, (await stream.next())!.id]).toEqual(['1', '2']);
      expect(queries()).toBe(before);
      await progress(fromStart, 3, 'failed', { failure: { code: 'agent-timeout', detail: 'the agent did not answer in time' } });
      expect((await stream.untilClosed()).map((e) => e.id)).toEqual(['3']);
      const other = await events(later);
      expect([(await other.next())!.id, (await other.next())!.id]).toEqual(['1', '2']); // 1 from issuance's history
      expect(queries()).toBe(before + 1);
      other.close();
    });

    it('closes at once, sending nothing, when the client already saw the terminal event', async () => {
      const requestId = createRequest(['requested']);
      for (let seq = 2; seq <= 7; seq++) await progress(requestId, seq, happyPath[seq - 1]!);
      const stream = await events(requestId, { 'last-event-id': '7' });
      expect(stream.status).toBe(200);
      expect(await stream.untilClosed()).toEqual([]);
    });

    it('sends each state once even when its event is delivered twice', async () => {
      const requestId = createRequest(['requested']);
      const stream = await events(requestId);
      await stream.next();
      await progress(requestId, 2, 'key-generating');
      await progress(requestId, 2, 'key-generating');
      await progress(requestId, 3, 'compensating');
      await progress(requestId, 4, 'failed', { failure: { code: 'token-absent', detail: 'the token was removed' } });
      expect((await stream.untilClosed()).map((e) => e.id)).toEqual(['2', '3', '4']);
    });

    it('fills a gap from the request\'s history when an event was never delivered', async () => {
      const requestId = createRequest(['requested']);
      const stream = await events(requestId);
      expect((await stream.next())!.id).toBe('1');
      // 2 and 3 are committed but their events never reach this replica.
      await progress(requestId, 2, 'key-generating', { publish: false });
      await progress(requestId, 3, 'key-generated', { publish: false });
      await progress(requestId, 4, 'certificate-issuing');
      const next = [await stream.next(), await stream.next(), await stream.next()];
      expect(next.map((e) => e!.id)).toEqual(['2', '3', '4']);
      expect(next.map((e) => JSON.parse(e!.data).status)).toEqual(['key-generating', 'key-generated', 'certificate-issuing']);
      stream.close();
    });

    it('sends keep-alive comments while nothing happens', async () => {
      const requestId = createRequest(['requested']);
      const stream = await events(requestId);
      await stream.next();
      await new Promise((r) => setTimeout(r, 500));
      await progress(requestId, 2, 'compensating');
      await progress(requestId, 3, 'failed', { failure: { code: 'token-absent', detail: 'gone' } });
      await stream.untilClosed();
      expect(stream.raw).toContain(': keep-alive\n\n');
    });

    describe('on a replica that never saw the events (cold start)', () => {
      let fresh: RunningApiGateway;
      beforeAll(async () => {
        fresh = await startApiGateway(testConfig(h.nats.url, { auth: { publicKeyPem: h.idp.publicKeyPem } }), { logLevel: 'silent' });
      });
      afterAll(async () => { await fresh.close(); });

      it('reconstructs the history from GetHardwareKeyRequest, the new key id included, and closes', async () => {
        const keyId = randomUUID();
        const requestId = createRequest(happyPath, userId, { keyId });
        const all = await (await events(requestId, {}, fresh)).untilClosed();
        expect(all.map((e) => e.id)).toEqual(['1', '2', '3', '4', '5', '6', '7']);
        expect(JSON.parse(all[6]!.data)).toEqual({ requestId, sequence: 7, status: 'completed', at: at(7), keyId, failure: null });
      });

      it('resumes with Last-Event-ID from the history too', async () => {
        const requestId = createRequest(happyPath.slice(0, 5));
        const stream = await events(requestId, { 'last-event-id': '4' }, fresh);
        expect((await stream.next())!.id).toBe('5');
        await progress(requestId, 6, 'installing');
        await progress(requestId, 7, 'completed', { keyId: randomUUID() });
        expect((await stream.untilClosed()).map((e) => e.id)).toEqual(['6', '7']);
      });
    });

    describe('refusals', () => {
      it('answers another user\'s request 404 (a problem, not a stream)', async () => {
        const requestId = createRequest(['requested'], randomUUID());
        const res = await h.http({ url: `/v1/hardware-key-requests/${requestId}/events`, headers: { authorization: bearer } });
        expectProblem(res, 404, 'not-found');
      });

      it('answers 404 for an id that is not a UUID', async () => {
        expectProblem(await h.http({ url: '/v1/hardware-key-requests/nope/events', headers: { authorization: bearer } }), 404, 'not-found');
      });

      it('answers 400 validation-failed for a Last-Event-ID that is not an event id', async () => {
        const requestId = createRequest(['requested']);
        expectProblem(await h.http({ url: `/v1/hardware-key-requests/${requestId}/events`, headers: { authorization: bearer, 'last-event-id': 'abc' } }), 400, 'validation-failed');
      });

      it('answers 401 without a token', async () => {
        const requestId = createRequest(['requested']);
        expectProblem(await h.http({ url: `/v1/hardware-key-requests/${requestId}/events` }), 401, 'unauthenticated');
      });

      it('answers 503 when issuance does not answer', async () => {
        const requestId = createRequest(['requested']);
        h.participants.unanswered(GetHardwareKeyRequestV1);
        try {
          expectProblem(await h.http({ url: `/v1/hardware-key-requests/${requestId}/events`, headers: { authorization: bearer } }), 503, 'service-unavailable');
        } finally {
          h.participants.answer(GetHardwareKeyRequestV1, ({ userId: u, requestId: id }) => {
            const r = requests.get(id);
            if (!r || r.userId !== u) throw new AppError('not-found', 'no such request');
            return r.view;
          });
          await h.participants.flush();
        }
      });
    });
  });
});
