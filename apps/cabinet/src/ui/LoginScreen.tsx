// Development login (AUTH_MODE=dev): a session for a seeded user by РНОКПП, no identity provider.
import { useRef, useState } from 'preact/hooks';
import { ApiError, type ApiClient } from '../api/client.js';
import { problemMessage } from '../lib/texts.js';
import { checkRnokpp } from '../lib/validation.js';
import type { Session } from '../lib/session.js';

interface LoginScreenProps {
  api: ApiClient;
  notice: string | null;
  onLoggedIn: (session: Session) => void;
}

export function LoginScreen({ api, notice, onLoggedIn }: LoginScreenProps) {
  const [rnokpp, setRnokpp] = useState('1111111111');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const inputRef = useRef<HTMLInputElement>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    const invalid = checkRnokpp(rnokpp);
    if (invalid) { setError(invalid); inputRef.current?.focus(); return; }
    setBusy(true);
    setError(null);
    try {
      const s = await api.devSession(rnokpp.trim());
      onLoggedIn({ ...s, rnokpp: rnokpp.trim() });
    } catch (e) {
      const problem = e instanceof ApiError ? e.problem : { status: 0, code: 'network' };
      setError(problem.code === 'not-found'
        ? 'Користувача з таким РНОКПП не знайдено (або вхід для розробки на цьому сервері вимкнено).'
        : problemMessage(problem));
      inputRef.current?.focus();
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="login" id="main">
      <div class="login__card">
        <div class="brand brand--large" aria-hidden="true"><span class="brand__mark">К</span></div>
        <h1 class="login__title">Вхід до кабінету</h1>
        <p class="login__subtitle">Кабінет користувача кваліфікованих електронних довірчих послуг</p>
        <p class="badge badge--info login__mode">Режим розробки: вхід без КЕП</p>
        {notice && <div class="alert alert--info" role="status">{notice}</div>}
        <form class="form" onSubmit={submit} noValidate>
          <div class={`field${error ? ' field--invalid' : ''}`}>
            <label class="field__label" for="login-rnokpp">РНОКПП</label>
            <input
              ref={inputRef}
              id="login-rnokpp"
              class="input"
              inputMode="numeric"
              autoComplete="username"
              maxLength={10}
              value={rnokpp}
              onInput={(e) => { setRnokpp((e.currentTarget as HTMLInputElement).value); setError(null); }}
              aria-invalid={error ? 'true' : undefined}
              aria-describedby={error ? 'login-error' : 'login-hint'}
              aria-required="true"
            />
            {!error && <p class="field__hint" id="login-hint">Демонстраційний користувач: 1111111111.</p>}
            {error && <p class="field__error" id="login-error" role="alert">{error}</p>}
          </div>
          <button type="submit" class="button button--primary button--block" disabled={busy} aria-busy={busy}>
            {busy ? <><span class="spinner" aria-hidden="true" />Вхід…</> : 'Увійти'}
          </button>
        </form>
      </div>
    </main>
  );
}
