/* eslint-disable @typescript-eslint/no-non-null-assertion -- off for .ts in eslint.config.mjs; the same house rule for .tsx */
// «Ключі»: the user's keys as the seed shows them, a page at a time (keyset cursors), with the
// three-dots menu per key and the temporary hardware key flow.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type ApiClient } from '../api/client.js';
import type { KeyAccount, KeyAction, KeyPage, Validity, ValidityPreview } from '../api/types.js';
import { formatKyivDateTime, formatValidity } from '../lib/dates.js';
import { accessBlocked, kindLabel, MENU, organizationText, problemMessage, STATUS_LABEL, STATUS_TONE } from '../lib/texts.js';
import { GenerateDialog } from './GenerateDialog.js';
import { KeyMenu } from './KeyMenu.js';
import { ValidityDialog } from './ValidityDialog.js';

export const PAGE_SIZES = [10, 20, 50] as const;

type Flow =
  | { step: 'validity'; key: KeyAccount }
  | { step: 'generate'; key: KeyAccount; validity: Validity; preview: ValidityPreview }
  | null;

interface Notice { tone: 'info' | 'success' | 'error'; text: string }

export function KeysScreen({ api, onOwner }: { api: ApiClient; onOwner: (name: string) => void }) {
  const [pageSize, setPageSize] = useState<number>(10);
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [pageIndex, setPageIndex] = useState(0);
  const [page, setPage] = useState<KeyPage | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [reloadTick, setReloadTick] = useState(0);
  const [flow, setFlow] = useState<Flow>(null);
  const [notice, setNotice] = useState<Notice | null>(null);
  const [highlight, setHighlight] = useState<string | null>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    const abort = new AbortController();
    setLoading(true);
    api.listKeys(pageSize, cursors[pageIndex] ?? null, abort.signal).then((p) => {
      setPage(p);
      setError(null);
      setLoading(false);
      const owner = p.items[0]?.owner.fullName;
      if (owner) onOwner(owner);
    }, (e: unknown) => {
      if ((e as Error).name === 'AbortError') return;
      setError(problemMessage(e instanceof ApiError ? e.problem : { status: 0, code: 'network' }));
      setLoading(false);
    });
    return () => abort.abort();
  }, [pageSize, pageIndex, cursors, reloadTick]);

  const reloadFirstPage = () => {
    setCursors([null]);
    setPageIndex(0);
    setReloadTick((t) => t + 1);
  };

  const next = () => {
    if (!page?.nextCursor) return;
    setCursors((c) => [...c.slice(0, pageIndex + 1), page.nextCursor]);
    setPageIndex((i) => i + 1);
  };
  const previous = () => setPageIndex((i) => Math.max(0, i - 1));

  const download = async (key: KeyAccount) => {
    try {
      const blob = await api.certificate(key.id);
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = `certificate-${key.certificate?.serialNumber ?? key.id}.cer`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setNotice({ tone: 'success', text: 'Сертифікат завантажено.' });
    } catch (e) {
      setNotice({ tone: 'error', text: problemMessage(e instanceof ApiError ? e.problem : { status: 0, code: 'network' }) });
    }
  };

  const onAction = (key: KeyAccount, action: KeyAction) => {
    setNotice(null);
    if (action === 'form-temporary-hardware-key') return setFlow({ step: 'validity', key });
    if (action === 'download-certificates') return void download(key);
    const label = MENU.find((m) => m.action === action)!.label;
    setNotice({ tone: 'info', text: `«${label}»: ця дія виконується в повній версії кабінету і в цій версії ще недоступна.` });
  };

  const items = page?.items ?? [];

  return (
    <main class="content" id="main">
      <div class="content__head">
        <div>
          <h1 class="content__title" ref={headingRef} tabIndex={-1}>Ключі</h1>
          <p class="content__subtitle">Ваші особисті ключі та сертифікати. Тимчасовий апаратний ключ формується з чинного хмарного ключа в меню «⋮».</p>
        </div>
        <button type="button" class="button button--secondary" onClick={() => setReloadTick((t) => t + 1)} disabled={loading}>
          <svg aria-hidden="true" viewBox="0 0 24 24" width="16" height="16"><path d="M20 12a8 8 0 1 1-2.34-5.66M20 4v5h-5" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" /></svg>
          Оновити
        </button>
      </div>

      <div role="status" aria-live="polite" class="notice-slot" data-testid="page-notice">
        {notice && (
          <div class={`alert alert--${notice.tone}`}>
            {notice.text}
            <button type="button" class="icon-button alert__close" aria-label="Сховати повідомлення" onClick={() => setNotice(null)}>×</button>
          </div>
        )}
      </div>

      {error && (
        <div class="alert alert--error" role="alert">
          Не вдалося завантажити список ключів. {error}{' '}
          <button type="button" class="link-button" onClick={() => setReloadTick((t) => t + 1)}>Спробувати ще раз</button>
        </div>
      )}

      <div class="card">
        <div class="table-wrap">
          <table class="keys" aria-busy={loading} data-testid="keys-table">
            <caption class="visually-hidden">Ключі користувача, сторінка {pageIndex + 1}</caption>
            <thead>
              <tr>
                <th scope="col">Організація (Фізична особа) / ЄДРПОУ</th>
                <th scope="col">ПІБ / РНОКПП / Посада</th>
                <th scope="col">Статус</th>
                <th scope="col">Дата створення</th>
                <th scope="col">Термін дії сертифіката</th>
                <th scope="col"><span class="visually-hidden">Дії</span></th>
              </tr>
            </thead>
            <tbody>
              {items.map((key) => (
                <tr key={key.id} class={key.id === highlight ? 'keys__row--new' : undefined} data-key-id={key.id} data-kind={key.kind}>
                  <td>
                    <div class="cell-main">{organizationText(key.owner)}</div>
                    <div class="cell-sub">{key.owner.edrpou ?? '—'}</div>
                  </td>
                  <td class="person">
                    <div class="cell-main">{key.owner.fullName}</div>
                    <div class="cell-sub">{key.owner.rnokpp}</div>
                    <div class="cell-sub">{key.owner.position ?? '—'}</div>
                  </td>
                  <td class="status">
                    <span class={`badge badge--${STATUS_TONE[key.status]}`} data-testid="status-badge">{STATUS_LABEL[key.status]}</span>
                    {accessBlocked(key) && <span class="badge badge--warn badge--second" data-testid="access-badge">Доступ заблоковано</span>}
                    <div class="cell-sub">{kindLabel(key)}</div>
                    {key.token && <div class="cell-sub token-name">{`${key.token.serial}(${key.token.model})`}</div>}
                    {key.id === highlight && <div class="cell-new">Новий</div>}
                  </td>
                  <td class="created"><time dateTime={key.createdAt}>{formatKyivDateTime(key.createdAt)}</time></td>
                  <td class="validity" data-testid="validity">{validityCell(key)}</td>
                  <td class="keys__actions">
                    <KeyMenu
                      keyAccount={key}
                      label={`Дії з ключем: ${kindLabel(key)}, ${STATUS_LABEL[key.status].toLowerCase()}, ${formatValidity(key.certificate)}`}
                      onSelect={(action) => onAction(key, action)}
                    />
                  </td>
                </tr>
              ))}
              {!loading && !error && items.length === 0 && (
                <tr><td colSpan={6} class="keys__empty">Ключів ще немає.</td></tr>
              )}
              {loading && items.length === 0 && (
                <tr><td colSpan={6} class="keys__empty"><span class="spinner" aria-hidden="true" />Завантаження…</td></tr>
              )}
            </tbody>
          </table>
        </div>
        <nav class="pager" aria-label="Сторінки списку ключів">
          <label class="pager__size">
            На сторінці:
            <select
              class="input input--compact"
              value={pageSize}
              onChange={(e) => { setPageSize(Number((e.currentTarget as HTMLSelectElement).value)); setCursors([null]); setPageIndex(0); }}
            >
              {PAGE_SIZES.map((n) => <option key={n} value={n}>{n}</option>)}
            </select>
          </label>
          <span class="pager__info">
            {items.length > 0 ? `${pageIndex * pageSize + 1}–${pageIndex * pageSize + items.length}` : '0'}
            {page?.nextCursor ? '' : ` з ${pageIndex * pageSize + items.length}`}
          </span>
          <span class="pager__nav">
            <button type="button" class="icon-button" aria-label="Попередня сторінка" disabled={pageIndex === 0 || loading} onClick={previous}>‹</button>
            <span class="pager__page" aria-current="page">Сторінка {pageIndex + 1}</span>
            <button type="button" class="icon-button" aria-label="Наступна сторінка" disabled={!page?.nextCursor || loading} onClick={next}>›</button>
          </span>
        </nav>
      </div>

      {flow?.step === 'validity' && (
        <ValidityDialog
          api={api}
          keyAccount={flow.key}
          onClose={() => setFlow(null)}
          onConfirm={(validity, preview) => setFlow({ step: 'generate', key: flow.key, validity, preview })}
        />
      )}
      {flow?.step === 'generate' && (
        <GenerateDialog
          api={api}
          keyAccount={flow.key}
          validity={flow.validity}
          preview={flow.preview}
          onFormed={(keyId) => { setHighlight(keyId); reloadFirstPage(); setNotice({ tone: 'success', text: 'Тимчасовий апаратний ключ сформовано й додано до списку.' }); }}
          onClose={({ running }) => {
            setFlow(null);
            // A refusal may have changed the key (access blocked after wrong passwords).
            setReloadTick((t) => t + 1);
            if (running) setNotice({ tone: 'info', text: 'Формування ключа триває. Новий ключ з’явиться у списку після завершення: натисніть «Оновити» за хвилину.' });
          }}
        />
      )}
    </main>
  );
}

function validityCell(key: KeyAccount) {
  if (!key.certificate) return <span class="muted">{key.status === 'pending' ? 'сертифікат формується' : '—'}</span>;
  const from = formatKyivDateTime(key.certificate.notBefore);
  const to = formatKyivDateTime(key.certificate.notAfter);
  return <><span class="nowrap">з {from}</span> <span class="nowrap">по {to}</span></>;
}
