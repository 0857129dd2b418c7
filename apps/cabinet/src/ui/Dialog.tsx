/* eslint-disable @typescript-eslint/no-non-null-assertion -- off for .ts in eslint.config.mjs; the same house rule for .tsx */
// A modal dialog on the native <dialog> (showModal: top layer, the page behind it inert) with
// aria-modal, a labelled title, Tab kept inside, Escape to close and focus returned on close.
import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef } from 'preact/hooks';

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

export function focusableIn(root: HTMLElement): HTMLElement[] {
  return Array.from(root.querySelectorAll<HTMLElement>(FOCUSABLE)).filter((el) => !el.closest('[inert]') && el.offsetParent !== null);
}

interface DialogProps {
  title: string;
  /** Closing by Escape or the × button; absent while closing is not allowed. */
  onClose?: () => void;
  children: ComponentChildren;
  footer?: ComponentChildren;
  describedBy?: string;
  initialFocus?: { current: HTMLElement | null };
  wide?: boolean;
  testId?: string;
}

export function Dialog({ title, onClose, children, footer, describedBy, initialFocus, wide, testId }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const onCloseRef = useRef(onClose);
  onCloseRef.current = onClose;

  useEffect(() => {
    const dialog = ref.current!;
    const opener = document.activeElement as HTMLElement | null;
    dialog.showModal();
    const target = initialFocus?.current ?? focusableIn(dialog)[0] ?? dialog;
    target.focus();
    return () => {
      if (dialog.open) dialog.close();
      if (opener && document.contains(opener)) opener.focus();
    };
  }, []);

  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key !== 'Tab') return;
    const items = focusableIn(ref.current!);
    if (items.length === 0) { event.preventDefault(); return; }
    const first = items[0]!;
    const last = items[items.length - 1]!;
    const active = document.activeElement;
    if (event.shiftKey && (active === first || active === ref.current)) { event.preventDefault(); last.focus(); }
    else if (!event.shiftKey && active === last) { event.preventDefault(); first.focus(); }
  };

  const onCancel = (event: Event) => {
    // Escape: the native dialog would close itself; the owner decides.
    event.preventDefault();
    onCloseRef.current?.();
  };

  return (
    <dialog
      ref={ref}
      class={`dialog${wide ? ' dialog--wide' : ''}`}
      aria-modal="true"
      aria-labelledby={titleId}
      aria-describedby={describedBy}
      onKeyDown={onKeyDown}
      onCancel={onCancel}
      data-testid={testId}
    >
      <header class="dialog__header">
        <h2 id={titleId} class="dialog__title">{title}</h2>
        {onClose && (
          <button type="button" class="icon-button dialog__close" aria-label="Закрити вікно" onClick={() => onClose()}>
            <svg aria-hidden="true" viewBox="0 0 24 24" width="20" height="20"><path d="M6 6l12 12M18 6L6 18" stroke="currentColor" stroke-width="2" stroke-linecap="round" /></svg>
          </button>
        )}
      </header>
      <div class="dialog__body">{children}</div>
      {footer && <footer class="dialog__footer">{footer}</footer>}
    </dialog>
  );
}
