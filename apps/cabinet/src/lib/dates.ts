// Dates as the cabinet shows them: Kyiv time (Europe/Kyiv, with its summer time), `DD.MM.YYYY HH:mm`.
// The API speaks ISO 8601 UTC; nothing here depends on the browser's own time zone.

export const KYIV_TIME_ZONE = 'Europe/Kyiv';

const dateTimeFormat = new Intl.DateTimeFormat('uk-UA', {
  timeZone: KYIV_TIME_ZONE,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

interface KyivParts { day: string; month: string; year: string; hour: string; minute: string; second: string }

function kyivParts(value: string | Date): KyivParts {
  const date = typeof value === 'string' ? new Date(value) : value;
  if (Number.isNaN(date.getTime())) throw new RangeError(`not a date: ${String(value)}`);
  const parts: Record<string, string> = {};
  for (const p of dateTimeFormat.formatToParts(date)) parts[p.type] = p.value;
  // Some engines print midnight as 24 with hourCycle h23 missing; normalise.
  const hour = parts['hour'] === '24' ? '00' : parts['hour']!;
  return { day: parts['day']!, month: parts['month']!, year: parts['year']!, hour, minute: parts['minute']!, second: parts['second']! };
}

/** `DD.MM.YYYY HH:mm` in Kyiv time. */
export function formatKyivDateTime(value: string | Date): string {
  const p = kyivParts(value);
  return `${p.day}.${p.month}.${p.year} ${p.hour}:${p.minute}`;
}

/** `HH:mm:ss` in Kyiv time (progress steps). */
export function formatKyivTime(value: string | Date): string {
  const p = kyivParts(value);
  return `${p.hour}:${p.minute}:${p.second}`;
}

/** The seed's validity column: `з DD.MM.YYYY HH:mm по DD.MM.YYYY HH:mm`. */
export function formatValidity(period: { notBefore: string; notAfter: string } | null | undefined): string {
  if (!period) return '—';
  return `з ${formatKyivDateTime(period.notBefore)} по ${formatKyivDateTime(period.notAfter)}`;
}

/** A machine-readable `datetime` attribute value (ISO 8601, UTC) for <time>. */
export function isoAttribute(value: string): string {
  return new Date(value).toISOString();
}
