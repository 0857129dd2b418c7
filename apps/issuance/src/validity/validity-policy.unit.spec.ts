import fc from 'fast-check';
import { decideValidity, periodEnd, VALIDITY_OPTIONS, type ValidityQuery, type ValidityPolicySettings } from './validity-policy.js';
import { addCalendarMonth, fromWallTime, toWallTime } from './zoned-time.js';

const KYIV = 'Europe/Kyiv';
const settings: ValidityPolicySettings = { minimumRemainingMs: 3_600_000, timeZone: KYIV };
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** `DD.MM.YYYY HH:mm` Kyiv wall time, as the cabinet shows it. */
function kyiv(text: string): Date {
  const m = /^(\d\d)\.(\d\d)\.(\d{4}) (\d\d):(\d\d)(?::(\d\d))?$/.exec(text);
  if (!m) throw new Error(`bad test time ${text}`);
  return fromWallTime({ year: +m[3]!, month: +m[2]!, day: +m[1]!, hour: +m[4]!, minute: +m[5]!, second: +(m[6] ?? 0), millisecond: 0 }, KYIV);
}

function showKyiv(iso: string): string {
  const w = toWallTime(new Date(iso), KYIV);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(w.day)}.${p(w.month)}.${w.year} ${p(w.hour)}:${p(w.minute)}`;
}

const farIssuer = kyiv('01.01.2040 00:00');

function query(option: string, now: string, base: [string, string], extra: Partial<ValidityQuery> = {}): ValidityQuery {
  return { option, now: kyiv(now), base: { notBefore: kyiv(base[0]), notAfter: kyiv(base[1]), revoked: false }, issuerNotAfter: farIssuer, ...extra };
}

describe('validity policy', () => {
  describe('decideValidity', () => {
    it('gives the seed example: base 25.08.2021 16:21 → 25.08.2022 16:21, "base" at 16:59 → 25.08.2021 16:59 → 25.08.2022 16:21', () => {
      const decision = decideValidity(query('base', '25.08.2021 16:59', ['25.08.2021 16:21', '25.08.2022 16:21']), settings);
      expect(decision).toEqual({
        ok: true,
        window: { option: 'base', notBefore: '2021-08-25T13:59:00.000Z', notAfter: '2022-08-25T13:21:00.000Z', capped: false, cappedBy: null },
      });
      if (!decision.ok) throw new Error('refused');
      expect([showKyiv(decision.window.notBefore), showKyiv(decision.window.notAfter)]).toEqual(['25.08.2021 16:59', '25.08.2022 16:21']);
    });

    const base: [string, string] = ['01.01.2021 00:00', '01.01.2030 00:00'];
    it.each([
      // option, now (Kyiv), expected notAfter (Kyiv)
      ['P1D', '25.08.2021 16:59', '26.08.2021 16:59'],
      ['P1W', '25.08.2021 16:59', '01.09.2021 16:59'],
      ['P1M', '25.08.2021 16:59', '25.09.2021 16:59'],
      ['P1M', '31.01.2021 10:00', '28.02.2021 10:00'], // clamped to the last day, common year
      ['P1M', '31.01.2024 10:00', '29.02.2024 10:00'], // leap year
      ['P1M', '30.01.2024 10:00', '29.02.2024 10:00'],
      ['P1M', '29.02.2024 10:00', '29.03.2024 10:00'],
      ['P1M', '31.03.2023 10:00', '30.04.2023 10:00'],
      ['P1M', '31.08.2021 10:00', '30.09.2021 10:00'],
      ['P1M', '31.12.2021 23:30', '31.01.2022 23:30'], // over the year end
      ['P1M', '31.01.2021 00:30', '28.02.2021 00:30'], // Kyiv calendar, not UTC (in UTC it is still 30.01)
      ['P1M', '15.03.2021 12:00', '15.04.2021 12:00'], // across the spring DST change: wall time kept
      ['P1M', '15.10.2021 12:00', '15.11.2021 12:00'], // across the autumn DST change
      ['P1M', '28.02.2021 03:30', '28.03.2021 04:30'], // 28.03.2021 03:30 does not exist in Kyiv
    ])('%s at %s ends %s (Kyiv time)', (option, now, end) => {
      const decision = decideValidity(query(option, now, base), settings);
      if (!decision.ok) throw new Error(decision.message);
      expect(showKyiv(decision.window.notBefore)).toBe(now);
      expect(showKyiv(decision.window.notAfter)).toBe(end);
      expect(decision.window).toMatchObject({ option, capped: false, cappedBy: null });
    });

    it('counts P1D as 24 hours even over a DST change (the wall clock moves by an hour)', () => {
      const decision = decideValidity(query('P1D', '27.03.2021 12:00', base), settings);
      if (!decision.ok) throw new Error(decision.message);
      expect(new Date(decision.window.notAfter).getTime() - new Date(decision.window.notBefore).getTime()).toBe(DAY);
      expect(showKyiv(decision.window.notAfter)).toBe('28.03.2021 13:00');
    });

    it('truncates the issuing moment to the whole second', () => {
      const now = new Date('2021-08-25T13:59:07.987Z');
      const decision = decideValidity({ option: 'P1D', now, base: { notBefore: kyiv('01.01.2021 00:00'), notAfter: kyiv('01.01.2030 00:00'), revoked: false }, issuerNotAfter: farIssuer }, settings);
      expect(decision).toMatchObject({ ok: true, window: { notBefore: '2021-08-25T13:59:07.000Z', notAfter: '2021-08-26T13:59:07.000Z' } });
    });

    it.each([
      // base notBefore, now, expected notBefore
      ['2021-08-25T13:59:07.400Z', '2021-08-25T13:59:07.900Z', '2021-08-25T13:59:08.000Z'], // base starts within the second: rounded up to it, not before it
      ['2021-08-25T13:59:07.000Z', '2021-08-25T13:59:07.900Z', '2021-08-25T13:59:07.000Z'], // base starts on the whole second: now truncated
      ['2021-08-25T13:59:06.999Z', '2021-08-25T13:59:07.001Z', '2021-08-25T13:59:07.000Z'], // base started in the second before
      ['2021-08-25T13:59:07.900Z', '2021-08-25T13:59:07.900Z', '2021-08-25T13:59:08.000Z'], // base starts this very moment
    ])('never starts before the base certificate (base from %s, now %s → %s)', (baseNotBefore, now, notBefore) => {
      const decision = decideValidity({ option: 'P1D', now: new Date(now), base: { notBefore: new Date(baseNotBefore), notAfter: kyiv('01.01.2030 00:00'), revoked: false }, issuerNotAfter: farIssuer }, settings);
      expect(decision).toMatchObject({ ok: true, window: { notBefore, notAfter: new Date(Date.parse(notBefore) + DAY).toISOString() } });
    });

    it.each([
      ['P1D', '25.08.2022 12:00'],
      ['P1W', '30.08.2021 12:00'],
      ['P1M', '10.09.2021 12:00'],
    ])('caps %s at the base certificate when it ends first (%s)', (option, baseEnd) => {
      const decision = decideValidity(query(option, '25.08.2021 16:59', ['25.08.2021 16:21', '25.08.2022 16:21'], { base: { notBefore: kyiv('25.08.2021 16:21'), notAfter: kyiv(baseEnd), revoked: false } }), settings);
      if (!decision.ok) throw new Error(decision.message);
      const wantedEnd = periodEnd(option as 'P1D', kyiv('25.08.2021 16:59'), kyiv(baseEnd), KYIV);
      if (wantedEnd.getTime() <= kyiv(baseEnd).getTime()) {
        expect(decision.window).toMatchObject({ capped: false, cappedBy: null });
      } else {
        expect(decision.window).toMatchObject({ notAfter: kyiv(baseEnd).toISOString(), capped: true, cappedBy: 'base-certificate' });
      }
    });

    it('caps at the base certificate: P1M with a base ending in ten days', () => {
      const decision = decideValidity(query('P1M', '25.08.2021 16:59', ['25.08.2020 16:21', '04.09.2021 16:21']), settings);
      expect(decision).toMatchObject({ ok: true, window: { notAfter: kyiv('04.09.2021 16:21').toISOString(), capped: true, cappedBy: 'base-certificate' } });
    });

    it('caps at the issuing CA when it ends before the chosen period', () => {
      const decision = decideValidity(query('P1W', '25.08.2021 16:59', ['25.08.2021 16:21', '25.08.2022 16:21'], { issuerNotAfter: kyiv('28.08.2021 00:00') }), settings);
      expect(decision).toMatchObject({ ok: true, window: { notAfter: kyiv('28.08.2021 00:00').toISOString(), capped: true, cappedBy: 'issuer' } });
    });

    it('caps at the issuing CA when it ends before the base certificate, naming the issuer', () => {
      const decision = decideValidity(query('P1M', '25.08.2021 16:59', ['25.08.2021 16:21', '10.09.2021 16:21'], { issuerNotAfter: kyiv('05.09.2021 00:00') }), settings);
      expect(decision).toMatchObject({ ok: true, window: { notAfter: kyiv('05.09.2021 00:00').toISOString(), capped: true, cappedBy: 'issuer' } });
    });

    it('reports "base" as not capped by the base certificate, but as capped when the issuer ends first', () => {
      const uncapped = decideValidity(query('base', '25.08.2021 16:59', ['25.08.2021 16:21', '25.08.2022 16:21']), settings);
      expect(uncapped).toMatchObject({ ok: true, window: { capped: false, cappedBy: null } });
      const byIssuer = decideValidity(query('base', '25.08.2021 16:59', ['25.08.2021 16:21', '25.08.2022 16:21'], { issuerNotAfter: kyiv('01.06.2022 00:00') }), settings);
      expect(byIssuer).toMatchObject({ ok: true, window: { notAfter: kyiv('01.06.2022 00:00').toISOString(), capped: true, cappedBy: 'issuer' } });
    });

    it('names the base certificate when base and issuer end at the same moment', () => {
      const decision = decideValidity(query('P1M', '25.08.2021 16:59', ['25.08.2021 16:21', '01.09.2021 00:00'], { issuerNotAfter: kyiv('01.09.2021 00:00') }), settings);
      expect(decision).toMatchObject({ ok: true, window: { capped: true, cappedBy: 'base-certificate' } });
    });

    it('does not call a period capped when it ends exactly with the base certificate', () => {
      const decision = decideValidity(query('P1D', '25.08.2021 16:59', ['25.08.2021 16:21', '26.08.2021 16:59']), settings);
      expect(decision).toMatchObject({ ok: true, window: { notAfter: kyiv('26.08.2021 16:59').toISOString(), capped: false, cappedBy: null } });
    });

    it.each([
      ['an unknown option', query('P2D', '25.08.2021 16:59', ['25.08.2021 16:21', '25.08.2022 16:21']), 'unknown-option', 'validation-failed'],
      ['a revoked base certificate', { ...query('P1D', '25.08.2021 16:59', ['25.08.2021 16:21', '25.08.2022 16:21']), base: { notBefore: kyiv('25.08.2021 16:21'), notAfter: kyiv('25.08.2022 16:21'), revoked: true } }, 'base-revoked', 'key-not-eligible'],
      ['a base certificate not valid yet', query('P1D', '25.08.2021 16:59', ['25.08.2021 17:00', '25.08.2022 16:21']), 'base-not-yet-valid', 'key-not-eligible'],
      ['an expired base certificate', query('P1D', '25.08.2022 16:22', ['25.08.2021 16:21', '25.08.2022 16:21']), 'base-expired', 'key-not-eligible'],
      ['a base certificate ending this very moment', query('P1D', '25.08.2022 16:21', ['25.08.2021 16:21', '25.08.2022 16:21']), 'base-expired', 'key-not-eligible'],
      ['a base certificate ending in 59 minutes', query('base', '25.08.2022 15:22', ['25.08.2021 16:21', '25.08.2022 16:21']), 'base-ending', 'base-certificate-expiring'],
      ['an issuer ending in 30 minutes', query('P1D', '25.08.2021 16:59', ['25.08.2021 16:21', '25.08.2022 16:21'], { issuerNotAfter: kyiv('25.08.2021 17:29') }), 'issuer-ending', 'issuer-certificate-expiring'],
    ])('refuses %s', (_name, q, reason, code) => {
      expect(decideValidity(q, settings)).toMatchObject({ ok: false, reason, code });
    });

    it('accepts a base certificate ending exactly at the minimum', () => {
      expect(decideValidity(query('base', '25.08.2022 15:21', ['25.08.2021 16:21', '25.08.2022 16:21']), settings)).toMatchObject({ ok: true });
    });

    it('applies a configured minimum', () => {
      const q = query('base', '25.08.2022 14:30', ['25.08.2021 16:21', '25.08.2022 16:21']);
      expect(decideValidity(q, settings)).toMatchObject({ ok: true });
      expect(decideValidity(q, { ...settings, minimumRemainingMs: 2 * HOUR })).toMatchObject({ ok: false, code: 'base-certificate-expiring' });
    });
  });

  describe('addCalendarMonth', () => {
    it('keeps the Kyiv wall time over the autumn repeated hour (takes its first occurrence)', () => {
      // Kyiv clocks went back from 04:00 to 03:00 on 25.10.2020: 03:30 happened twice.
      const from = kyiv('25.09.2020 03:30');
      const to = addCalendarMonth(from, KYIV);
      expect(showKyiv(to.toISOString())).toBe('25.10.2020 03:30');
      expect(to.toISOString()).toBe('2020-10-25T00:30:00.000Z');
    });
  });

  describe('properties', () => {
    const t0 = Date.UTC(2000, 0, 1);
    const t1 = Date.UTC(2060, 0, 1);
    const instant = fc.integer({ min: t0, max: t1 }).map((ms) => new Date(ms));
    const duration = (maxDays: number) => fc.integer({ min: 0, max: maxDays * DAY });
    const option = fc.constantFrom(...VALIDITY_OPTIONS);
    const minimum = fc.integer({ min: 0, max: 48 * HOUR });
    const zone = fc.constantFrom('Europe/Kyiv', 'UTC', 'America/New_York', 'Australia/Lord_Howe');
    // Often a base certificate that started a moment ago, within the same second or the one before.
    const sinceBase = fc.oneof(duration(800), fc.integer({ min: 0, max: 2_000 }));
    const input = fc.record({
      option, now: instant, sinceBase, baseLength: fc.oneof(duration(1_200), fc.integer({ min: 0, max: 2 * DAY })), issuerAfter: fc.integer({ min: -DAY, max: 3_000 * DAY }), revoked: fc.boolean(), minimum, zone,
    }).map((r) => ({
      query: {
        option: r.option,
        now: r.now,
        base: { notBefore: new Date(r.now.getTime() - r.sinceBase), notAfter: new Date(r.now.getTime() - r.sinceBase + r.baseLength), revoked: r.revoked },
        issuerNotAfter: new Date(r.now.getTime() + r.issuerAfter),
      } satisfies ValidityQuery,
      settings: { minimumRemainingMs: r.minimum, timeZone: r.zone },
    }));

    /** now truncated to the second, unless the base started later within that second (then its start, rounded up). */
    const expectedNotBefore = (q: ValidityQuery) => Math.max(Math.floor(q.now.getTime() / 1_000) * 1_000, Math.ceil(q.base.notBefore.getTime() / 1_000) * 1_000);

    it('always keeps base notBefore ≤ notBefore ≤ notAfter ≤ every cap, and says truthfully whether it capped', () => {
      fc.assert(fc.property(input, ({ query: q, settings: s }) => {
        const decision = decideValidity(q, s);
        if (!decision.ok) return;
        const nb = new Date(decision.window.notBefore).getTime();
        const na = new Date(decision.window.notAfter).getTime();
        const wanted = periodEnd(q.option as 'P1D', new Date(nb), q.base.notAfter, s.timeZone).getTime();
        expect(nb).toBe(expectedNotBefore(q));
        expect(nb).toBeGreaterThanOrEqual(q.base.notBefore.getTime());
        expect(nb - q.now.getTime()).toBeLessThan(1_000);
        expect(nb).toBeLessThanOrEqual(na);
        expect(na).toBeLessThanOrEqual(Math.min(wanted, q.base.notAfter.getTime(), q.issuerNotAfter.getTime()));
        expect(na).toBe(Math.min(wanted, q.base.notAfter.getTime(), q.issuerNotAfter.getTime()));
        expect(na - nb).toBeGreaterThanOrEqual(Math.min(s.minimumRemainingMs, wanted - nb));
        expect(decision.window.capped).toBe(na < wanted);
        expect(decision.window.capped).toBe(decision.window.cappedBy !== null);
        if (decision.window.cappedBy === 'issuer') expect(na).toBe(q.issuerNotAfter.getTime());
        if (decision.window.cappedBy === 'base-certificate') expect(na).toBe(q.base.notAfter.getTime());
        if (q.option === 'base') expect(decision.window.cappedBy).not.toBe('base-certificate');
      }), { numRuns: 2_000 });
    });

    it('refuses exactly when the base certificate is revoked, not yet valid, over or ending within the minimum', () => {
      fc.assert(fc.property(input, ({ query: q, settings: s }) => {
        const decision = decideValidity(q, s);
        const nb = expectedNotBefore(q);
        const shouldRefuse = q.base.revoked
          || q.base.notBefore.getTime() > q.now.getTime()
          || q.base.notAfter.getTime() <= q.now.getTime()
          || q.base.notAfter.getTime() - nb < s.minimumRemainingMs
          || q.issuerNotAfter.getTime() - nb < s.minimumRemainingMs;
        expect(decision.ok).toBe(!shouldRefuse);
      }), { numRuns: 2_000 });
    });

    it('makes a calendar month last 28 to 31 days (± one DST hour, ± Lord Howe\'s half hour)', () => {
      fc.assert(fc.property(instant, zone, (now, z) => {
        const length = addCalendarMonth(now, z).getTime() - now.getTime();
        expect(length).toBeGreaterThanOrEqual(28 * DAY - HOUR);
        expect(length).toBeLessThanOrEqual(31 * DAY + HOUR);
      }), { numRuns: 2_000 });
    });

    it('keeps the wall-clock time of day across a month, unless that time does not exist then', () => {
      fc.assert(fc.property(instant, (now) => {
        const from = toWallTime(now, KYIV);
        const to = toWallTime(addCalendarMonth(now, KYIV), KYIV);
        expect(to.day).toBe(Math.min(from.day, to.day));
        if (to.hour === from.hour) expect([to.minute, to.second, to.millisecond]).toEqual([from.minute, from.second, from.millisecond]);
        else expect(to.hour).toBe(from.hour + 1); // the skipped spring hour
      }), { numRuns: 2_000 });
    });
  });
});
