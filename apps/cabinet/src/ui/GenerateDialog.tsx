/* eslint-disable @typescript-eslint/no-non-null-assertion -- off for .ts in eslint.config.mjs; the same house rule for .tsx */
// The generation dialog: passwords, the token found by the signing agent, the new token password
// checked and sealed in the page, then the saga's progress as steps until the key is formed.
import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { ApiError, type ApiClient } from '../api/client.js';
import { FormingRequest, type FormingAttempt } from '../api/forming-request.js';
import { followProgress } from '../api/progress.js';
import type { KeyAccount, ProgressEvent, Token, Validity, ValidityPreview } from '../api/types.js';
import { formatKyivDateTime, formatKyivTime, formatValidity } from '../lib/dates.js';
import { latestStatus, progressSteps, STATUS_TEXT } from '../lib/progress-steps.js';
import { SealError, sealPassword } from '../lib/seal.js';
import { compensationNote, failureMessage, NO_AGENT_MESSAGE, problemMessage, VALIDITY_OPTIONS } from '../lib/texts.js';
import { firstInvalidField, PIN_POLICY, validateGenerationForm, type FieldErrors, type FieldName } from '../lib/validation.js';
import { Dialog } from './Dialog.js';

interface GenerateDialogProps {
  api: ApiClient;
  keyAccount: KeyAccount;
  validity: Validity;
  preview: ValidityPreview;
  onClose: (outcome: { running: boolean }) => void;
  onFormed: (keyId: string) => void;
}

type TokensState = { state: 'loading' } | { state: 'ready'; items: Token[] } | { state: 'error'; message: string };
type Phase =
  | { phase: 'form' }
  | { phase: 'sending' }
  | { phase: 'progress'; requestId: string; token: Token; events: ProgressEvent[]; notAfter: string; capped: boolean }
  | { phase: 'completed'; requestId: string; token: Token; events: ProgressEvent[]; keyId: string; newKey: KeyAccount | null; notAfter: string }
  | { phase: 'failed'; requestId: string; token: Token; events: ProgressEvent[]; code: string; lost?: boolean };

const TOKEN_POLL_MS = 5_000;

/** The key list learns of the new key from an event of its own: wait (briefly) until it shows it. */
async function waitForKey(api: ApiClient, keyId: string, signal: AbortSignal, attempts = 20): Promise<KeyAccount | null> {
  for (let i = 0; i < attempts && !signal.aborted; i++) {
    const key = await api.getKey(keyId).catch(() => null);
    if (key && key.status !== 'pending' && key.certificate) return key;
    await new Promise((r) => setTimeout(r, 500));
  }
  return null;
}

export function GenerateDialog({ api, keyAccount, validity, preview, onClose, onFormed }: GenerateDialogProps) {
  const [tokens, setTokens] = useState<TokensState>({ state: 'loading' });
  const [tokenId, setTokenId] = useState<string | null>(null);
  const [values, setValues] = useState({ cloudKeyPassword: '', currentTokenPassword: '', newKeyPassword: '', newKeyPasswordConfirmation: '' });
  const [errors, setErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [blocked, setBlocked] = useState(false);
  const [phase, setPhase] = useState<Phase>({ phase: 'form' });
  const [announcement, setAnnouncement] = useState('');
  const ids = { form: useId(), lead: useId() };
  const refs: Record<FieldName, { current: HTMLInputElement | HTMLSelectElement | null }> = {
    cloudKeyPassword: useRef<HTMLInputElement>(null),
    tokenId: useRef<HTMLInputElement | HTMLSelectElement>(null),
    currentTokenPassword: useRef<HTMLInputElement>(null),
    newKeyPassword: useRef<HTMLInputElement>(null),
    newKeyPasswordConfirmation: useRef<HTMLInputElement>(null),
  };
  const followAbort = useRef<AbortController | null>(null);
  const doneRef = useRef<HTMLButtonElement>(null);
  const formErrorRef = useRef<HTMLDivElement>(null);
  // One Idempotency-Key (and body) while the inputs are unchanged and the answer may have been lost.
  const [forming] = useState(() => new FormingRequest(sealPassword));

  const loadTokens = async (signal?: AbortSignal): Promise<Token[] | null> => {
    try {
      const items = await api.tokens(signal);
      setTokens({ state: 'ready', items });
      setTokenId((current) => (current && items.some((t) => t.tokenId === current) ? current : items[0]?.tokenId ?? null));
      return items;
    } catch (error) {
      if ((error as Error).name === 'AbortError') return null;
      setTokens({ state: 'error', message: problemMessage(error instanceof ApiError ? error.problem : { status: 0, code: 'network' }) });
      return null;
    }
  };

  useEffect(() => {
    const abort = new AbortController();
    void loadTokens(abort.signal);
    return () => { abort.abort(); followAbort.current?.abort(); };
  }, []);

  // While no agent shows a token, look again now and then: plugging it in is enough.
  const noTokens = tokens.state === 'ready' && tokens.items.length === 0;
  useEffect(() => {
    if (!noTokens || phase.phase !== 'form') return;
    const abort = new AbortController();
    const timer = setInterval(() => void loadTokens(abort.signal), TOKEN_POLL_MS);
    return () => { clearInterval(timer); abort.abort(); };
  }, [noTokens, phase.phase]);

  const token = tokens.state === 'ready' ? tokens.items.find((t) => t.tokenId === tokenId) ?? null : null;
  const needsCurrent = token?.userPinInitialized ?? false;
  const validityLabel = VALIDITY_OPTIONS.find((o) => o.value === validity)!.label;

  const set = (field: keyof typeof values) => (event: Event) => {
    const value = (event.currentTarget as HTMLInputElement).value;
    setValues((v) => ({ ...v, [field]: value }));
    if (errors[field]) setErrors((e) => ({ ...e, [field]: undefined }));
  };

  const focusField = (field: FieldName) => setTimeout(() => refs[field].current?.focus(), 0);

  const follow = (requestId: string, usedToken: Token, notAfter: string, capped: boolean) => {
    const abort = new AbortController();
    followAbort.current = abort;
    const events: ProgressEvent[] = [];
    setPhase({ phase: 'progress', requestId, token: usedToken, events: [], notAfter, capped });
    setAnnouncement('Запит прийнято. Формування ключа розпочато.');
    followProgress(api, requestId, (event) => {
      events.push(event);
      setAnnouncement(STATUS_TEXT[event.status]);
      setPhase({ phase: 'progress', requestId, token: usedToken, events: [...events], notAfter, capped });
    }, { signal: abort.signal }).then(async (last) => {
      if (last.status === 'completed' && last.keyId) {
        const keyId = last.keyId;
        const newKey = await waitForKey(api, keyId, abort.signal);
        setPhase({ phase: 'completed', requestId, token: usedToken, events: [...events], keyId, newKey, notAfter: newKey?.certificate?.notAfter ?? notAfter });
        setAnnouncement(`Тимчасовий апаратний ключ сформовано${newKey?.certificate ? `, сертифікат діє ${formatValidity(newKey.certificate)}` : ''}.`);
        onFormed(keyId);
      } else {
        const code = last.failure?.code ?? 'unknown';
        setPhase({ phase: 'failed', requestId, token: usedToken, events: [...events], code });
        setAnnouncement(`Не вдалося сформувати ключ. ${failureMessage(code)}`);
      }
    }, (error: unknown) => {
      if ((error as Error).name === 'AbortError') return;
      setPhase({ phase: 'failed', requestId, token: usedToken, events: [...events], code: error instanceof ApiError ? error.code : 'progress-lost', lost: true });
    });
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    if (phase.phase !== 'form' || blocked) return;
    setFormError(null);
    const found = validateGenerationForm({ ...values, tokenId: token?.tokenId ?? null }, needsCurrent);
    setErrors(found);
    const first = firstInvalidField(found);
    if (first) {
      setAnnouncement('Форму заповнено не повністю: перевірте позначені поля.');
      if (first === 'tokenId' && !refs.tokenId.current) setTimeout(() => formErrorRef.current?.focus(), 0);
      else focusField(first);
      return;
    }
    const chosen = token!;
    setPhase({ phase: 'sending' });
    setAnnouncement('Перевіряємо пароль і надсилаємо запит…');
    let attempt: FormingAttempt | null = null;
    try {
      attempt = await forming.attempt({
        keyId: keyAccount.id,
        validity,
        tokenId: chosen.tokenId,
        agentKey: chosen.agentKey,
        cloudKeyPassword: values.cloudKeyPassword,
        newKeyPassword: values.newKeyPassword,
        currentTokenPassword: needsCurrent ? values.currentTokenPassword : null,
      });
      const accepted = await api.formTemporaryHardwareKey(keyAccount.id, attempt.body, attempt.idempotencyKey);
      forming.accepted(attempt);
      setValues({ cloudKeyPassword: '', currentTokenPassword: '', newKeyPassword: '', newKeyPasswordConfirmation: '' });
      follow(accepted.requestId, chosen, accepted.validity.notAfter, accepted.validity.capped);
    } catch (error) {
      if (attempt) forming.failed(attempt, error);
      setPhase({ phase: 'form' });
      const problem = error instanceof ApiError ? error.problem : error instanceof SealError ? { status: 0, code: error.code } : { status: 0, code: 'internal' };
      const message = problemMessage(problem);
      setAnnouncement(message);
      switch (problem.code) {
        case 'wrong-password':
          setValues((v) => ({ ...v, cloudKeyPassword: '' }));
          setErrors({ cloudKeyPassword: message });
          focusField('cloudKeyPassword');
          return;
        case 'current-token-password-required': {
          await loadTokens();
          setErrors({ currentTokenPassword: message });
          focusField('currentTokenPassword');
          return;
        }
        case 'token-unavailable':
          setFormError(message);
          await loadTokens();
          setTimeout(() => formErrorRef.current?.focus(), 0);
          return;
        case 'key-access-blocked':
        case 'key-not-eligible':
        case 'base-certificate-expiring':
        case 'not-found':
          setBlocked(true);
          setFormError(message);
          setTimeout(() => formErrorRef.current?.focus(), 0);
          return;
        default:
          setFormError(message);
          setTimeout(() => formErrorRef.current?.focus(), 0);
      }
    }
  };

  useEffect(() => {
    if (phase.phase === 'completed' || phase.phase === 'failed') doneRef.current?.focus();
  }, [phase.phase]);

  const running = phase.phase === 'progress' || phase.phase === 'sending';
  const close = () => onClose({ running: phase.phase === 'progress' });

  const errorId = (field: FieldName) => `${ids.form}-${field}-error`;
  const field = (name: FieldName, label: string, input: ComponentChildren, hint?: string) => (
    <div class={`field${errors[name] ? ' field--invalid' : ''}`}>
      <label class="field__label" for={`${ids.form}-${name}`}>{label}</label>
      {input}
      {hint && !errors[name] && <p class="field__hint" id={`${ids.form}-${name}-hint`}>{hint}</p>}
      {errors[name] && <p class="field__error" id={errorId(name)}>{errors[name]}</p>}
    </div>
  );
  const passwordInput = (name: Exclude<FieldName, 'tokenId'>, autoComplete: string, hint?: boolean) => (
    <input
      ref={refs[name] as { current: HTMLInputElement | null }}
      id={`${ids.form}-${name}`}
      class="input"
      type="password"
      autoComplete={autoComplete}
      value={values[name]}
      onInput={set(name)}
      aria-invalid={errors[name] ? 'true' : undefined}
      aria-describedby={errors[name] ? errorId(name) : hint ? `${ids.form}-${name}-hint` : undefined}
      aria-required="true"
      disabled={phase.phase === 'sending'}
      maxLength={200}
    />
  );

  let body: ComponentChildren;
  let footer: ComponentChildren;
  if (phase.phase === 'form' || phase.phase === 'sending') {
    body = (
      <form id={ids.form} class="form" onSubmit={submit} noValidate aria-describedby={ids.lead}>
        <p id={ids.lead} class="dialog__lead">
          Строк дії: <strong>{validityLabel}</strong>, <span class="nowrap">{formatValidity(preview)}</span>.
        </p>
        {formError && <div ref={formErrorRef} tabIndex={-1} class="alert alert--error" role="alert">{formError}</div>}
        {field('cloudKeyPassword', 'Пароль до поточного ключа у депозитарії', passwordInput('cloudKeyPassword', 'current-password'))}
        {field('tokenId', 'Токен', tokenControl(), tokens.state === 'ready' && tokens.items.length > 0 ? 'Визначено автоматично агентом підпису.' : undefined)}
        {needsCurrent && field('currentTokenPassword', 'Поточний пароль токена', passwordInput('currentTokenPassword', 'off', true), 'На токені вже встановлено пароль: він зміниться на новий.')}
        {field('newKeyPassword', 'Пароль до нового апаратного ключа', passwordInput('newKeyPassword', 'new-password', true), `Від ${PIN_POLICY.minLength} до ${PIN_POLICY.maxLength} символів. Він стане паролем токена.`)}
        {field('newKeyPasswordConfirmation', 'Підтвердження паролю до нового апаратного ключа', passwordInput('newKeyPasswordConfirmation', 'new-password'))}
        <p class="dialog__hint">
          <svg class="inline-icon" aria-hidden="true" viewBox="0 0 24 24" width="14" height="14"><path d="M7 10V7a5 5 0 0 1 10 0v3M5 10h14v11H5z" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round" /></svg>
          Новий пароль шифрується на цій сторінці ключем агента підпису й не передається на сервер у відкритому вигляді.
        </p>
      </form>
    );
    footer = (
      <>
        <button type="button" class="button button--secondary" onClick={close} disabled={phase.phase === 'sending'}>Закрити</button>
        <button type="submit" form={ids.form} class="button button--primary" disabled={phase.phase === 'sending' || blocked} aria-busy={phase.phase === 'sending'}>
          {phase.phase === 'sending' ? <><span class="spinner" aria-hidden="true" />Надсилаємо…</> : 'Згенерувати'}
        </button>
      </>
    );
  } else {
    const steps = progressSteps(phase.events);
    const status = latestStatus(phase.events);
    body = (
      <div class="progress">
        <p class="dialog__lead">
          Токен <strong>{phase.token.display}</strong>. Не від’єднуйте токен, доки формування не завершиться.
        </p>
        <ol class="steps" aria-label="Кроки формування ключа">
          {steps.map((s) => (
            <li key={s.id} class={`step step--${s.state}`} aria-current={s.state === 'active' ? 'step' : undefined} data-state={s.state}>
              <span class="step__icon" aria-hidden="true">{s.state === 'done' ? '✓' : s.state === 'failed' ? '✕' : s.state === 'active' ? <span class="spinner spinner--step" /> : ''}</span>
              <span class="step__label">{s.label}</span>
              <span class="visually-hidden">{s.state === 'done' ? ' — виконано' : s.state === 'active' ? ' — виконується' : s.state === 'failed' ? ' — помилка' : ' — очікує'}</span>
              {s.at && <time class="step__time" dateTime={s.at}>{formatKyivTime(s.at)}</time>}
            </li>
          ))}
        </ol>
        {phase.phase === 'progress' && (
          <p class="progress__status" aria-hidden="true">{status ? STATUS_TEXT[status] : 'Запит прийнято, очікуємо агента підпису…'}</p>
        )}
        {phase.phase === 'completed' && (
          <div class="alert alert--success">
            <strong>Тимчасовий апаратний ключ сформовано.</strong>
            {phase.newKey?.certificate
              ? <> Сертифікат діє <span class="nowrap">{formatValidity(phase.newKey.certificate)}</span>.</>
              : <> Сертифікат діє до <span class="nowrap">{formatKyivDateTime(phase.notAfter)}</span>.</>}
            {' '}Ключ записано на токен {phase.token.display} і додано до списку ключів.
          </div>
        )}
        {phase.phase === 'failed' && (
          <div class="alert alert--error">
            <strong>Не вдалося сформувати тимчасовий апаратний ключ.</strong> {phase.lost ? problemMessage({ status: 0, code: phase.code }) : failureMessage(phase.code)}
            {!phase.lost && <p class="alert__more">{compensationNote(phase.events.map((e) => e.status))}</p>}
          </div>
        )}
      </div>
    );
    footer = phase.phase === 'progress'
      ? <button type="button" class="button button--secondary" onClick={close}>Згорнути</button>
      : phase.phase === 'completed'
        ? <button ref={doneRef} type="button" class="button button--primary" onClick={close}>Готово</button>
        : (
          <>
            <button ref={doneRef} type="button" class="button button--secondary" onClick={close}>Закрити</button>
            {!phase.lost && <button type="button" class="button button--primary" onClick={() => { setPhase({ phase: 'form' }); setErrors({}); void loadTokens(); }}>Спробувати ще раз</button>}
          </>
        );
  }

  return (
    <Dialog title="Генерація апаратного ключа" onClose={running && phase.phase === 'sending' ? undefined : close} footer={footer} initialFocus={refs.cloudKeyPassword as { current: HTMLElement | null }} testId="generate-dialog" wide>
      {body}
      <div class="visually-hidden" role="status" aria-live="polite" aria-atomic="true" data-testid="live-region">{announcement}</div>
    </Dialog>
  );

  function tokenControl() {
    const name: FieldName = 'tokenId';
    if (tokens.state === 'loading') return <p class="token-state" id={`${ids.form}-${name}`} role="status"><span class="spinner" aria-hidden="true" />Шукаємо підключені токени…</p>;
    if (tokens.state === 'error') return <div class="alert alert--error" id={`${ids.form}-${name}`}>{tokens.message} <button type="button" class="link-button" onClick={() => void loadTokens()}>Спробувати ще раз</button></div>;
    if (tokens.items.length === 0) {
      return (
        <div class="alert alert--warning" id={`${ids.form}-${name}`} data-testid="no-agent">
          {NO_AGENT_MESSAGE}{' '}
          <button type="button" class="link-button" onClick={() => void loadTokens()}>Перевірити ще раз</button>
        </div>
      );
    }
    if (tokens.items.length === 1) {
      return (
        <input
          ref={refs.tokenId as { current: HTMLInputElement | null }}
          id={`${ids.form}-${name}`}
          class="input input--readonly"
          type="text"
          readOnly
          value={tokens.items[0]!.display}
          aria-describedby={`${ids.form}-${name}-hint`}
        />
      );
    }
    return (
      <select
        ref={refs.tokenId as { current: HTMLSelectElement | null }}
        id={`${ids.form}-${name}`}
        class="input"
        value={tokenId ?? ''}
        onChange={(e) => setTokenId((e.currentTarget as HTMLSelectElement).value)}
      >
        {tokens.items.map((t) => <option key={t.tokenId} value={t.tokenId}>{t.display}</option>)}
      </select>
    );
  }
}
