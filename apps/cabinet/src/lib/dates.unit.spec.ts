import { formatKyivDateTime, formatKyivTime, formatValidity } from './dates.js';

describe('dates', () => {
  describe('formatKyivDateTime', () => {
    it('shows winter time as UTC+2', () => {
      expect(formatKyivDateTime('2021-01-15T10:05:00Z')).toBe('15.01.2021 12:05');
    });

    it('shows summer time as UTC+3 (the seed: 25.08.2021 16:21 Kyiv is 13:21 UTC)', () => {
      expect(formatKyivDateTime('2021-08-25T13:21:00Z')).toBe('25.08.2021 16:21');
    });

    it('moves to the next day across midnight and prints midnight as 00', () => {
      expect(formatKyivDateTime('2021-12-31T22:00:00Z')).toBe('01.01.2022 00:00');
      expect(formatKyivDateTime('2021-06-30T21:30:00Z')).toBe('01.07.2021 00:30');
    });

    it('follows the switch to summer time on the last Sunday of March', () => {
      expect(formatKyivDateTime('2024-03-31T00:59:00Z')).toBe('31.03.2024 02:59');
      expect(formatKyivDateTime('2024-03-31T01:00:00Z')).toBe('31.03.2024 04:00');
    });

    it('drops seconds (truncates, never rounds up)', () => {
      expect(formatKyivDateTime('2021-08-25T13:21:59.999Z')).toBe('25.08.2021 16:21');
    });

    it('accepts a Date and refuses what is not a date', () => {
      expect(formatKyivDateTime(new Date(Date.UTC(2030, 4, 2, 3, 4)))).toBe('02.05.2030 06:04');
      expect(() => formatKyivDateTime('yesterday')).toThrow(RangeError);
    });

    it('does not depend on the process time zone', () => {
      const before = process.env.TZ;
      process.env.TZ = 'America/Los_Angeles';
      try {
        expect(formatKyivDateTime('2021-08-25T13:21:00Z')).toBe('25.08.2021 16:21');
      } finally {
        process.env.TZ = before;
      }
    });
  });

  describe('formatKyivTime', () => {
    it('shows hours, minutes and seconds in Kyiv time', () => {
      expect(formatKyivTime('2021-08-25T13:59:07Z')).toBe('16:59:07');
    });
  });

  describe('formatValidity', () => {
    it('renders the seed example for the base and the new key', () => {
      expect(formatValidity({ notBefore: '2021-08-25T13:21:00Z', notAfter: '2022-08-25T13:21:00Z' })).toBe('з 25.08.2021 16:21 по 25.08.2022 16:21');
      expect(formatValidity({ notBefore: '2021-08-25T13:59:00Z', notAfter: '2022-08-25T13:21:00Z' })).toBe('з 25.08.2021 16:59 по 25.08.2022 16:21');
    });

    it('renders a dash when there is no certificate yet', () => {
      expect(formatValidity(null)).toBe('—');
    });
  });
});
