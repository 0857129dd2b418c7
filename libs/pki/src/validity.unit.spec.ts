import { addCalendarMonth, maxValidityDurationMs, validityOptionEnd } from './validity.js';

describe('validity', () => {
  describe('addCalendarMonth', () => {
    it('keeps the day and time of day', () => {
      expect(addCalendarMonth(new Date('2021-08-25T13:59:00Z')).toISOString()).toBe('2021-09-25T13:59:00.000Z');
    });
    it('clamps to the last day of a shorter month', () => {
      expect(addCalendarMonth(new Date('2023-01-31T10:00:00Z')).toISOString()).toBe('2023-02-28T10:00:00.000Z');
      expect(addCalendarMonth(new Date('2024-01-31T10:00:00Z')).toISOString()).toBe('2024-02-29T10:00:00.000Z');
    });
    it('crosses the year', () => {
      expect(addCalendarMonth(new Date('2021-12-15T00:00:00Z')).toISOString()).toBe('2022-01-15T00:00:00.000Z');
    });
  });
  describe('validityOptionEnd', () => {
    it('answers each option', () => {
      const from = new Date('2021-08-25T13:59:00Z');
      expect(validityOptionEnd(from, 'P1D')!.toISOString()).toBe('2021-08-26T13:59:00.000Z');
      expect(validityOptionEnd(from, 'P1W')!.toISOString()).toBe('2021-09-01T13:59:00.000Z');
      expect(validityOptionEnd(from, 'P1M')!.toISOString()).toBe('2021-09-25T13:59:00.000Z');
      expect(validityOptionEnd(from, 'base')).toBeNull();
    });
  });
  describe('maxValidityDurationMs', () => {
    it('bounds a month by 31 days', () => {
      expect(maxValidityDurationMs('P1M')).toBe(31 * 86_400_000);
      expect(maxValidityDurationMs('base')).toBe(Infinity);
    });
  });
});
