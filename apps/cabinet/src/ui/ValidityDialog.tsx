/* eslint-disable @typescript-eslint/no-non-null-assertion -- off for .ts in eslint.config.mjs; the same house rule for .tsx */
// «Строк дії апаратного ключа»: the four options, each with the dates the preview gives for it
// and a note when the period was cut short; Закрити / Згенерувати.
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { ApiError, type ApiClient } from '../api/client.js';
import type { KeyAccount, Validity, ValidityPreview } from '../api/types.js';
import { formatValidity } from '../lib/dates.js';
import { cappedNote, problemMessage, VALIDITY_OPTIONS } from '../lib/texts.js';
import { Dialog } from './Dialog.js';

type PreviewState = { state: 'loading' } | { state: 'ready'; preview: ValidityPreview } | { state: 'error'; message: string; code: string };

interface ValidityDialogProps {
  api: ApiClient;
  keyAccount: KeyAccount;
  onClose: () => void;
  onConfirm: (validity: Validity, preview: ValidityPreview) => void;
}

export function ValidityDialog({ api, keyAccount, onClose, onConfirm }: ValidityDialogProps) {
  const [selected, setSelected] = useState<Validity>('P1D');
  const [previews, setPreviews] = useState<Record<Validity, PreviewState>>({
    P1D: { state: 'loading' }, P1W: { state: 'loading' }, P1M: { state: 'loading' }, base: { state: 'loading' },
  });
  const descId = useId();
  const summaryId = useId();
  const formId = useId();
  const firstOption = useRef<HTMLInputElement>(null);

  useEffect(() => {
    const abort = new AbortController();
    for (const { value } of VALIDITY_OPTIONS) {
      api.preview(keyAccount.id, value, abort.signal).then(
        (preview) => setPreviews((p) => ({ ...p, [value]: { state: 'ready', preview } })),
        (error: unknown) => {
          if ((error as Error).name === 'AbortError') return;
          const problem = error instanceof ApiError ? error.problem : { status: 0, code: 'network' };
          setPreviews((p) => ({ ...p, [value]: { state: 'error', message: problemMessage(problem), code: problem.code } }));
        },
      );
    }
    return () => abort.abort();
  }, [keyAccount.id]);

  const current = previews[selected];
  const errors = Object.values(previews).filter((p): p is Extract<PreviewState, { state: 'error' }> => p.state === 'error');
  const allSameError = errors.length === VALIDITY_OPTIONS.length && errors.every((e) => e.code === errors[0]!.code);

  const footer = (
    <>
      <button type="button" class="button button--secondary" onClick={onClose}>Закрити</button>
      <button type="submit" form={formId} class="button button--primary" disabled={current.state !== 'ready'}>
        Згенерувати
      </button>
    </>
  );

  return (
    <Dialog title="Строк дії апаратного ключа" onClose={onClose} footer={footer} describedBy={descId} initialFocus={firstOption} testId="validity-dialog">
      <p id={descId} class="dialog__lead">
        Оберіть строк дії сертифіката тимчасового апаратного ключа. Він не може діяти довше за сертифікат основного ключа
        {keyAccount.certificate ? <> (<span class="nowrap">{formatValidity(keyAccount.certificate)}</span>)</> : null}.
      </p>
      {allSameError ? (
        <div class="alert alert--error" role="alert">{errors[0]!.message}</div>
      ) : (
        <form id={formId} onSubmit={(e) => { e.preventDefault(); if (current.state === 'ready') onConfirm(selected, current.preview); }}>
        <fieldset class="options" aria-describedby={summaryId}>
          <legend class="visually-hidden">Строк дії</legend>
          {VALIDITY_OPTIONS.map(({ value, label }) => {
            const p = previews[value];
            const note = p.state === 'ready' ? cappedNote(p.preview) : null;
            return (
              <label class={`option${selected === value ? ' option--selected' : ''}`} key={value}>
                <input ref={value === 'P1D' ? firstOption : undefined} type="radio" name="validity" value={value} checked={selected === value} onChange={() => setSelected(value)} />
                <span class="option__text">
                  <span class="option__label">{label}</span>
                  <span class="option__detail">
                    {p.state === 'loading' && <span class="muted">обчислюється…</span>}
                    {p.state === 'ready' && formatValidity(p.preview)}
                    {p.state === 'error' && <span class="text-error">{p.message}</span>}
                  </span>
                  {note && <span class="option__note"><svg class="inline-icon" aria-hidden="true" viewBox="0 0 24 24" width="14" height="14"><path d="M12 3l10 18H2zM12 10v5M12 18v.5" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round" stroke-linecap="round" /></svg> {note}</span>}
                </span>
              </label>
            );
          })}
        </fieldset>
        </form>
      )}
      <p id={summaryId} class="dialog__hint" aria-live="polite">
        {current.state === 'ready'
          ? <>Сертифікат діятиме <strong class="nowrap">{formatValidity(current.preview)}</strong> (за київським часом; початок — момент формування).</>
          : current.state === 'loading' ? 'Обчислюємо строк дії…' : null}
      </p>
    </Dialog>
  );
}
