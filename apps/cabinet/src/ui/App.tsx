// The cabinet shell: development login, then the key list.
import { useMemo, useRef, useState } from 'preact/hooks';
import { ApiClient } from '../api/client.js';
import { clearSession, loadSession, saveSession, type Session } from '../lib/session.js';
import { KeysScreen } from './KeysScreen.js';
import { LoginScreen } from './LoginScreen.js';

export function App() {
  const [session, setSession] = useState<Session | null>(() => loadSession());
  const [notice, setNotice] = useState<string | null>(null);
  const [owner, setOwner] = useState<string | null>(null);
  const tokenRef = useRef<string | null>(session?.accessToken ?? null);
  tokenRef.current = session?.accessToken ?? null;

  const api = useMemo(() => new ApiClient({
    getToken: () => tokenRef.current,
    onUnauthenticated: () => {
      clearSession();
      setSession(null);
      setNotice('Сеанс завершився. Увійдіть до кабінету знову.');
    },
  }), []);

  if (!session) {
    return (
      <LoginScreen
        api={api}
        notice={notice}
        onLoggedIn={(s) => { saveSession(s); setNotice(null); setSession(s); }}
      />
    );
  }

  const logout = () => { clearSession(); setOwner(null); setSession(null); setNotice('Ви вийшли з кабінету.'); };

  return (
    <div class="shell">
      <a class="skip-link" href="#main">Перейти до вмісту</a>
      <header class="topbar">
        <div class="topbar__brand">
          <span class="brand__mark" aria-hidden="true">К</span>
          <span class="topbar__name">Кабінет користувача<span class="topbar__sub">Кваліфіковані електронні довірчі послуги</span></span>
        </div>
        <nav class="topbar__nav" aria-label="Розділи кабінету">
          <a class="topbar__link topbar__link--active" href="#main" aria-current="page">Ключі</a>
        </nav>
        <div class="topbar__user">
          <span class="topbar__person">
            <span class="avatar" aria-hidden="true">{(owner ?? 'К').slice(0, 1)}</span>
            <span>
              <span class="topbar__person-name">{owner ?? 'Користувач'}</span>
              <span class="topbar__person-id">РНОКПП {session.rnokpp}</span>
            </span>
          </span>
          <button type="button" class="button button--ghost" onClick={logout}>Вийти</button>
        </div>
      </header>
      <KeysScreen api={api} onOwner={setOwner} />
    </div>
  );
}
