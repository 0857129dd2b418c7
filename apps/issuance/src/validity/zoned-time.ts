/**
 * Calendar arithmetic in a named time zone. A "month" is a calendar month as the user reads it
 * (the cabinet shows Europe/Kyiv time), not in UTC: 31.01 00:30 Kyiv plus one month is
 * 28.02 00:30 Kyiv, which in UTC arithmetic would have become 01.03.
 */

export interface WallTime {
  year: number;
  /** 1–12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Throws a RangeError for a zone the runtime does not know (checked once at configuration). */
export function assertTimeZone(timeZone: string): void {
  formatter(timeZone);
}

export function toWallTime(instant: Date, timeZone: string): WallTime {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(instant)) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return {
    year: parts['year']!, month: parts['month']!, day: parts['day']!,
    hour: parts['hour']!, minute: parts['minute']!, second: parts['second']!,
    millisecond: ((instant.getTime() % 1_000) + 1_000) % 1_000,
  };
}

/** The zone's offset from UTC at an instant, in ms (Kyiv: +2 h in winter, +3 h in summer). */
export function offsetAt(instant: Date, timeZone: string): number {
  const w = toWallTime(instant, timeZone);
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second, w.millisecond) - instant.getTime();
}

/**
 * The instant at which the zone's clocks show `wall`. A wall time skipped by a DST change
 * (spring forward) resolves to the same reading after the change (03:30 → 04:30 Kyiv); a repeated one
 * (autumn) to its first occurrence.
 */
export function fromWallTime(wall: WallTime, timeZone: string): Date {
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second, wall.millisecond);
  const before = offsetAt(new Date(asUtc - 86_400_000), timeZone);
  const after = offsetAt(new Date(asUtc + 86_400_000), timeZone);
  const first = asUtc - Math.max(before, after);
  const second = asUtc - Math.min(before, after);
  // The earliest candidate whose wall reading is the one asked for wins (the first of a repeated hour).
  for (const candidate of [first, second]) {
    if (candidate - asUtc + offsetAt(new Date(candidate), timeZone) === 0) return new Date(candidate);
  }
  // Skipped wall time: apply the offset from before the gap, which lands after it.
  return new Date(asUtc - before);
}

export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** One calendar month later in the zone, the day clamped to the target month's last day (31.01 → 28.02 or 29.02). */
export function addCalendarMonth(instant: Date, timeZone: string): Date {
  const w = toWallTime(instant, timeZone);
  const year = w.month === 12 ? w.year + 1 : w.year;
  const month = w.month === 12 ? 1 : w.month + 1;
  return fromWallTime({ ...w, year, month, day: Math.min(w.day, daysInMonth(year, month)) }, timeZone);
}
