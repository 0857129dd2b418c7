// Checks the generation form makes before anything leaves the page. The token agent applies the
// same PIN policy again (and the token its own limits): this only spares the user a round trip.

export const PIN_POLICY = { minLength: 6, maxLength: 32 } as const;

export type NewPasswordProblem = 'empty' | 'too-short' | 'too-long' | 'control-characters';
export type FieldName = 'cloudKeyPassword' | 'tokenId' | 'currentTokenPassword' | 'newKeyPassword' | 'newKeyPasswordConfirmation';

/** Length in characters as the agent counts them (code points, not UTF-16 units). */
export function passwordLength(password: string): number {
  return [...password].length;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/u;

/** What is wrong with a new token password under the policy, or null. */
export function checkNewPassword(password: string, policy: { minLength: number; maxLength: number } = PIN_POLICY): NewPasswordProblem | null {
  if (password.length === 0) return 'empty';
  if (CONTROL.test(password)) return 'control-characters';
  const length = passwordLength(password);
  if (length < policy.minLength) return 'too-short';
  if (length > policy.maxLength) return 'too-long';
  return null;
}

export function newPasswordMessage(problem: NewPasswordProblem, policy: { minLength: number; maxLength: number } = PIN_POLICY): string {
  switch (problem) {
    case 'empty': return 'Введіть пароль до нового апаратного ключа.';
    case 'too-short': return `Пароль закороткий: потрібно щонайменше ${policy.minLength} символів.`;
    case 'too-long': return `Пароль задовгий: допускається не більше ${policy.maxLength} символів.`;
    case 'control-characters': return 'Пароль не може містити керуючих символів (табуляція, перенесення рядка тощо).';
  }
}

export interface GenerationFormValues {
  cloudKeyPassword: string;
  tokenId: string | null;
  currentTokenPassword: string;
  newKeyPassword: string;
  newKeyPasswordConfirmation: string;
}

export type FieldErrors = Partial<Record<FieldName, string>>;

/**
 * Every field's problem, in the form's order (the first is where focus goes). `needsCurrentTokenPassword`
 * is the chosen token's `userPinInitialized`.
 */
export function validateGenerationForm(values: GenerationFormValues, needsCurrentTokenPassword: boolean): FieldErrors {
  const errors: FieldErrors = {};
  if (values.cloudKeyPassword.length === 0) errors.cloudKeyPassword = 'Введіть пароль до поточного ключа у депозитарії.';
  if (!values.tokenId) errors.tokenId = 'Токен не вибрано: підключіть токен і дочекайтеся, поки агент підпису його знайде.';
  if (needsCurrentTokenPassword && values.currentTokenPassword.length === 0) errors.currentTokenPassword = 'Введіть поточний пароль токена.';
  const problem = checkNewPassword(values.newKeyPassword);
  if (problem) errors.newKeyPassword = newPasswordMessage(problem);
  if (values.newKeyPasswordConfirmation.length === 0) errors.newKeyPasswordConfirmation = 'Повторіть пароль до нового апаратного ключа.';
  else if (values.newKeyPasswordConfirmation !== values.newKeyPassword) errors.newKeyPasswordConfirmation = 'Паролі не збігаються: введіть однаковий пароль в обидва поля.';
  return errors;
}

export const FIELD_ORDER: readonly FieldName[] = ['cloudKeyPassword', 'tokenId', 'currentTokenPassword', 'newKeyPassword', 'newKeyPasswordConfirmation'];

export function firstInvalidField(errors: FieldErrors): FieldName | null {
  return FIELD_ORDER.find((f) => errors[f] !== undefined) ?? null;
}

/** РНОКПП for the development login: ten digits. */
export function checkRnokpp(value: string): string | null {
  const v = value.trim();
  if (v.length === 0) return 'Введіть РНОКПП.';
  if (!/^\d{10}$/.test(v)) return 'РНОКПП складається з 10 цифр.';
  return null;
}
