// Every word the cabinet says about keys, refusals and failures, in plain Ukrainian.
import type { KeyAccount, KeyAction, KeyStatus, Problem, Validity, ValidityPreview } from '../api/types.js';

export const STATUS_LABEL: Record<KeyStatus, string> = {
  pending: 'Формується',
  active: 'Активний',
  blocked: 'Заблокований',
  expired: 'Строк дії минув',
  revoked: 'Скасований',
  failed: 'Не сформовано',
};

/** Badge colour family per status (CSS class suffix). */
export const STATUS_TONE: Record<KeyStatus, 'ok' | 'info' | 'warn' | 'bad' | 'muted'> = {
  pending: 'info',
  active: 'ok',
  blocked: 'warn',
  expired: 'muted',
  revoked: 'bad',
  failed: 'bad',
};

export function kindLabel(key: Pick<KeyAccount, 'kind' | 'temporary'>): string {
  const kind = key.kind === 'cloud' ? 'хмарний' : key.kind === 'hardware' ? 'апаратний' : 'файловий';
  return key.temporary ? `Тимчасовий ${kind} ключ` : `${kind[0]!.toUpperCase()}${kind.slice(1)} ключ`;
}

export function organizationText(owner: KeyAccount['owner']): string {
  return owner.organization ?? 'Фізична особа';
}

/** The seed's menu, in its order. */
export const MENU: { action: KeyAction; label: string }[] = [
  { action: 'view-application', label: 'Переглянути заявку' },
  { action: 'download-certificates', label: 'Завантажити сертифікати' },
  { action: 'check-certificate-status', label: 'Перевірити статус сертифіката' },
  { action: 'extend-certificate', label: 'Продовжити строк дії сертифіката' },
  { action: 'activate-access', label: 'Активувати доступ до особистого ключа' },
  { action: 'block-access', label: 'Заблокувати доступ до особистого ключа' },
  { action: 'change-password', label: 'Змінити пароль до особистого ключа' },
  { action: 'generate-access-token', label: 'Згенерувати токен доступу' },
  { action: 'form-temporary-file-key', label: 'Сформувати тимчасовий файловий ключ' },
  { action: 'form-temporary-hardware-key', label: 'Сформувати тимчасовий апаратний ключ' },
];

/** The depository locked the key after too many wrong passwords: the menu offers «Активувати доступ». */
export function accessBlocked(key: Pick<KeyAccount, 'status' | 'actions'>): boolean {
  return key.status === 'active' && key.actions.includes('activate-access');
}

const NEEDS_ACCESS: ReadonlySet<KeyAction> = new Set(['block-access', 'change-password', 'generate-access-token', 'form-temporary-file-key', 'form-temporary-hardware-key']);

/** Why a menu item is not offered for this key now (shown next to the disabled item). */
export function unavailableReason(key: KeyAccount, action: KeyAction): string {
  if (accessBlocked(key) && NEEDS_ACCESS.has(action)) return 'доступ до особистого ключа заблоковано';
  if (key.status === 'expired') return 'строк дії сертифіката минув';
  if (key.status === 'revoked') return 'сертифікат скасовано';
  if (key.status === 'blocked') return action === 'activate-access' ? 'ключ розблоковує оператор' : 'ключ заблоковано';
  if (key.status === 'pending') return 'ключ ще формується';
  if (key.status === 'failed') return 'ключ не сформовано';
  if ((action === 'form-temporary-hardware-key' || action === 'form-temporary-file-key') && (key.temporary || key.kind !== 'cloud')) return 'лише для хмарного ключа';
  if (key.temporary && action !== 'view-application' && action !== 'download-certificates' && action !== 'check-certificate-status') return 'не застосовується до тимчасового ключа';
  if (action === 'activate-access') return 'доступ уже активний';
  return 'недоступно для цього ключа';
}

export const VALIDITY_OPTIONS: { value: Validity; label: string }[] = [
  { value: 'P1D', label: '1 доба' },
  { value: 'P1W', label: '1 тиждень' },
  { value: 'P1M', label: '1 місяць' },
  { value: 'base', label: 'До кінця дії основного сертифікату' },
];

export function cappedNote(preview: Pick<ValidityPreview, 'capped' | 'cappedBy'>): string | null {
  if (!preview.capped) return null;
  if (preview.cappedBy === 'issuer') return 'Строк скорочено: сертифікат не може діяти довше, ніж сертифікат центру сертифікації.';
  return 'Строк скорочено до кінця дії основного сертифіката: тимчасовий ключ не може діяти довше за нього.';
}

function attempts(n: number): string {
  const mod10 = n % 10;
  const mod100 = n % 100;
  if (mod10 === 1 && mod100 !== 11) return `${n} спроба`;
  if (mod10 >= 2 && mod10 <= 4 && (mod100 < 12 || mod100 > 14)) return `${n} спроби`;
  return `${n} спроб`;
}

/** The message for a refused or failed API call, as the user should read it. */
export function problemMessage(problem: Pick<Problem, 'code' | 'status' | 'remainingAttempts'>): string {
  switch (problem.code) {
    case 'wrong-password': {
      const left = problem.remainingAttempts;
      if (left === undefined) return 'Невірний пароль до поточного ключа у депозитарії.';
      if (left === 0) return 'Невірний пароль до поточного ключа у депозитарії. Це була остання спроба: доступ до ключа заблоковано. Зверніться до служби підтримки, щоб його розблокувати.';
      return `Невірний пароль до поточного ключа у депозитарії. Залишилось ${attempts(left)}, після чого доступ до ключа буде заблоковано.`;
    }
    case 'key-access-blocked':
      return 'Доступ до ключа заблоковано після кількох невдалих спроб введення пароля. Зверніться до служби підтримки, щоб його розблокувати.';
    case 'key-not-eligible':
      return 'З цього ключа не можна сформувати тимчасовий ключ: потрібен чинний хмарний ключ (не заблокований, не скасований, строк дії не минув).';
    case 'base-certificate-expiring':
      return 'Сертифікат основного ключа закінчується занадто скоро, щоб сформувати тимчасовий ключ. Спочатку продовжіть строк його дії.';
    case 'token-unavailable':
      return 'Токен більше не доступний: його від’єднано або агент підпису не в мережі. Підключіть токен, переконайтеся, що агент підпису запущено, і оновіть список токенів.';
    case 'current-token-password-required':
      return 'На токені вже встановлено пароль: введіть поточний пароль токена.';
    case 'algorithm-unsupported':
      return 'Токен не підтримує потрібний алгоритм ключа.';
    case 'idempotency-conflict':
      return 'Цей запит уже надіслано з іншими даними. Закрийте вікно та почніть знову.';
    case 'not-found':
      return 'Ключ не знайдено. Оновіть сторінку.';
    case 'validation-failed':
      return 'Дані запиту не прийнято. Перевірте заповнені поля та спробуйте ще раз.';
    case 'unauthenticated':
      return 'Сеанс завершився. Увійдіть до кабінету знову.';
    case 'rate-limited':
      return 'Забагато запитів за короткий час. Зачекайте хвилину та спробуйте ще раз.';
    case 'service-unavailable':
      return 'Сервіс тимчасово не відповідає. Спробуйте ще раз за кілька хвилин.';
    case 'network':
      return 'Немає зв’язку з сервером. Перевірте підключення до мережі та спробуйте ще раз.';
    case 'progress-lost':
      return 'Зв’язок із сервером перервано під час формування ключа. Запит продовжує виконуватися: оновіть сторінку пізніше, щоб побачити результат.';
    case 'insecure-context':
      return 'Пароль не можна зашифрувати: сторінку відкрито не через захищене з’єднання (HTTPS).';
    case 'seal-failed':
      return 'Не вдалося зашифрувати пароль для агента підпису. Оновіть список токенів і спробуйте ще раз.';
    default:
      return problem.status >= 500
        ? 'Внутрішня помилка сервісу. Спробуйте ще раз пізніше; якщо помилка повторюється, зверніться до служби підтримки.'
        : 'Запит не виконано. Спробуйте ще раз.';
  }
}

/** Why a request failed during the saga (`failure.code`), and what to do. */
export function failureMessage(code: string): string {
  switch (code) {
    case 'agent-timeout': return 'Агент підпису не відповів вчасно. Переконайтеся, що агент запущено, комп’ютер підключено до мережі, і спробуйте ще раз.';
    case 'token-absent': return 'Токен від’єднано під час формування ключа. Підключіть токен і спробуйте ще раз.';
    case 'token-pin-locked': return 'Пароль токена заблоковано після невдалих спроб. Розблокуйте токен засобами його виробника.';
    case 'wrong-token-password': return 'Невірний поточний пароль токена. Увага: після кількох невдалих спроб токен блокується.';
    case 'pin-policy': return 'Токен не прийняв новий пароль: він має містити від 6 до 32 символів без керуючих символів.';
    case 'algorithm-unsupported': return 'Токен не підтримує потрібний алгоритм ключа.';
    case 'token-error': return 'Помилка токена під час операції. Спробуйте ще раз; якщо помилка повторюється, зверніться до служби підтримки.';
    case 'ca-rejected': return 'Центр сертифікації відмовив у формуванні сертифіката. Зверніться до служби підтримки.';
    case 'certificate-timeout': return 'Центр сертифікації не відповів вчасно. Спробуйте ще раз пізніше.';
    case 'install-failed': return 'Не вдалося записати сертифікат на токен.';
    case 'base-key-ineligible': return 'Основний ключ став недійсним під час формування (заблокований, скасований або строк дії минув).';
    default: return 'Не вдалося сформувати тимчасовий апаратний ключ. Спробуйте ще раз.';
  }
}

/** What the compensations undid, from the states the request reached before it failed. */
export function compensationNote(reached: readonly string[]): string {
  const undone: string[] = [];
  if (reached.includes('key-generated')) undone.push('згенерований ключ видалено з токена');
  if (reached.includes('certificate-issued')) undone.push('виданий сертифікат відкликано');
  if (undone.length === 0) return 'Ключ на токені не створено, сертифікат не видано: основний ключ і токен залишилися без змін.';
  return `Виконані кроки скасовано: ${undone.join(', ')}.`;
}

export const NO_AGENT_MESSAGE = 'Токен не знайдено. Встановіть агент підпису, підключіть токен і перезавантажте сторінку.';
