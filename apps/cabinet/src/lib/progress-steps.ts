// The saga's states, as the four steps the generation dialog shows while it runs.
import type { ProgressEvent, RequestStatus } from '../api/types.js';

export type StepState = 'pending' | 'active' | 'done' | 'failed';

export interface ProgressStep { id: StepId; label: string; state: StepState; at: string | null }

export type StepId = 'request' | 'key' | 'certificate' | 'install';

const STEPS: { id: StepId; label: string; starts: RequestStatus[]; ends: RequestStatus[] }[] = [
  { id: 'request', label: 'Перевірка пароля та запит прийнято', starts: [], ends: ['requested'] },
  { id: 'key', label: 'Генерація ключової пари на токені', starts: ['key-generating'], ends: ['key-generated'] },
  { id: 'certificate', label: 'Формування сертифіката', starts: ['certificate-issuing'], ends: ['certificate-issued'] },
  { id: 'install', label: 'Запис сертифіката на токен', starts: ['installing'], ends: ['completed'] },
];

export const STATUS_TEXT: Record<RequestStatus, string> = {
  'requested': 'Запит прийнято',
  'key-generating': 'Генерується ключова пара на токені…',
  'key-generated': 'Ключову пару згенеровано на токені',
  'certificate-issuing': 'Формується сертифікат…',
  'certificate-issued': 'Сертифікат сформовано',
  'installing': 'Сертифікат записується на токен…',
  'completed': 'Тимчасовий апаратний ключ сформовано',
  'compensating': 'Сталася помилка: скасовуються виконані кроки…',
  'failed': 'Не вдалося сформувати тимчасовий апаратний ключ',
};

const ORDER: RequestStatus[] = ['requested', 'key-generating', 'key-generated', 'certificate-issuing', 'certificate-issued', 'installing', 'completed'];

/**
 * The steps after the events received so far (in any order, duplicates allowed): the steps whose
 * final state was reached are done; the first one not done is under way (or failed, once the
 * request fails); the rest are pending.
 */
export function progressSteps(events: readonly ProgressEvent[]): ProgressStep[] {
  const seen = new Map<RequestStatus, string>();
  for (const e of events) if (!seen.has(e.status)) seen.set(e.status, e.at);
  const failedAt = seen.get('failed') ?? seen.get('compensating') ?? null;
  const failed = seen.has('failed') || seen.has('compensating');
  let reached = -1;
  ORDER.forEach((s, i) => { if (seen.has(s)) reached = Math.max(reached, i); });
  let current = true;
  return STEPS.map((step): ProgressStep => {
    const endIndex = Math.max(...step.ends.map((s) => ORDER.indexOf(s)));
    if (reached >= endIndex) return { id: step.id, label: step.label, state: 'done', at: step.ends.map((s) => seen.get(s)).find(Boolean) ?? null };
    if (current) {
      current = false;
      if (failed) return { id: step.id, label: step.label, state: 'failed', at: failedAt };
      return { id: step.id, label: step.label, state: 'active', at: step.starts.map((s) => seen.get(s)).find(Boolean) ?? null };
    }
    return { id: step.id, label: step.label, state: 'pending', at: null };
  });
}

/** The latest status among the events (by sequence). */
export function latestStatus(events: readonly ProgressEvent[]): RequestStatus | null {
  let best: ProgressEvent | null = null;
  for (const e of events) if (!best || e.sequence > best.sequence) best = e;
  return best?.status ?? null;
}
