import { checkWindow, type WindowCheckInput } from './window-check.js';

const d = (s: string) => new Date(s);
const base: WindowCheckInput = {
  notBefore: d('2021-08-25T13:59:00Z'),
  notAfter: d('2021-09-01T13:59:00Z'),
  option: 'P1W',
  notAfterCap: d('2022-08-25T13:21:00Z'),
  baseNotBefore: d('2021-08-25T13:21:00Z'),
  baseNotAfter: d('2022-08-25T13:21:00Z'),
  caNotAfter: d('2031-01-01T00:00:00Z'),
  authorizedAt: d('2021-08-25T13:58:30Z'),
  now: d('2021-08-25T14:01:00Z'),
  maxBackdateMs: 300_000,
  clockToleranceMs: 30_000,
};

describe('checkWindow', () => {
  it('accepts a window inside every cap', () => {
    expect(checkWindow(base)).toBeNull();
  });
  it('accepts "until the end of the base certificate"', () => {
    expect(checkWindow({ ...base, option: 'base', notAfter: base.baseNotAfter })).toBeNull();
  });
  it('accepts a calendar month of 31 days and ignores milliseconds past the cap', () => {
    expect(checkWindow({ ...base, option: 'P1M', notBefore: d('2021-08-25T13:59:00Z'), notAfter: d('2021-09-25T13:59:00Z') })).toBeNull();
    expect(checkWindow({ ...base, option: 'base', notAfter: d('2022-08-25T13:21:00.999Z') })).toBeNull();
  });
  it.each([
    ['ends after the base certificate', { option: 'base', notAfter: d('2022-08-25T13:21:01Z') }, /base certificate/],
    ['ends after the CA', { option: 'base', caNotAfter: d('2022-01-01T00:00:00Z'), notAfter: d('2022-01-01T00:00:01Z') }, /issuing CA/],
    ['ends after the authorized cap', { notAfterCap: d('2021-08-30T00:00:00Z') }, /authorized cap/],
    ['is longer than the option', { option: 'P1D' }, /longer than the authorized option P1D/],
    ['ends before it starts', { notAfter: base.notBefore }, /ends before it starts/],
    ['starts long before the authorization', { notBefore: d('2021-08-25T13:50:00Z') }, /before the authorization/],
    ['starts in the future', { notBefore: d('2021-08-25T14:05:00Z'), notAfter: d('2021-08-26T14:05:00Z') }, /in the future/],
    ['starts before the base certificate', { baseNotBefore: d('2021-08-25T14:00:00Z') }, /before the base certificate/],
  ] as const)('refuses a window that %s', (_name, change, message) => {
    expect(checkWindow({ ...base, ...change } as WindowCheckInput)).toMatch(message);
  });
});
