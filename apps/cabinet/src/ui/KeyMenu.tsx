/* eslint-disable @typescript-eslint/no-non-null-assertion -- off for .ts in eslint.config.mjs; the same house rule for .tsx */
// The three-dots menu of one key: every item of the seed's menu, enabled from the key's `actions`
// and visibly disabled otherwise (with the reason). ARIA menu button pattern with arrow keys.
import { useId, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { KeyAccount, KeyAction } from '../api/types.js';
import { MENU, unavailableReason } from '../lib/texts.js';

interface KeyMenuProps {
  keyAccount: KeyAccount;
  label: string;
  onSelect: (action: KeyAction) => void;
}

export function KeyMenu({ keyAccount, label, onSelect }: KeyMenuProps) {
  const [open, setOpen] = useState(false);
  const buttonRef = useRef<HTMLButtonElement>(null);
  const menuRef = useRef<HTMLUListElement>(null);
  const menuId = useId();
  const focusOnOpen = useRef<'first' | 'last'>('first');

  const items = () => Array.from(menuRef.current?.querySelectorAll<HTMLElement>('[role="menuitem"]') ?? []);
  const close = (returnFocus: boolean) => {
    setOpen(false);
    if (returnFocus) buttonRef.current?.focus();
  };

  useLayoutEffect(() => {
    if (!open) return;
    const place = () => {
      const b = buttonRef.current!.getBoundingClientRect();
      const menu = menuRef.current!;
      const width = menu.offsetWidth;
      const height = menu.offsetHeight;
      const below = b.bottom + 4;
      const top = below + height > window.innerHeight - 8 && b.top - height - 4 > 8 ? b.top - height - 4 : below;
      // Placed before the first paint (and before focus: a hidden element cannot take focus).
      menu.style.top = `${top}px`;
      menu.style.left = `${Math.max(8, Math.min(b.right - width, window.innerWidth - width - 8))}px`;
    };
    place();
    const list = items();
    const enabled = list.filter((el) => el.getAttribute('aria-disabled') !== 'true');
    const pool = enabled.length ? enabled : list;
    (focusOnOpen.current === 'last' ? pool[pool.length - 1] : pool[0])?.focus();
    const onOutside = (event: Event) => {
      const t = event.target as Node;
      if (!menuRef.current?.contains(t) && !buttonRef.current?.contains(t)) close(false);
    };
    const onViewport = () => close(false);
    document.addEventListener('pointerdown', onOutside, true);
    window.addEventListener('resize', onViewport);
    window.addEventListener('scroll', onViewport, true);
    return () => {
      document.removeEventListener('pointerdown', onOutside, true);
      window.removeEventListener('resize', onViewport);
      window.removeEventListener('scroll', onViewport, true);
    };
  }, [open]);

  const onButtonKeyDown = (event: KeyboardEvent) => {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      focusOnOpen.current = event.key === 'ArrowUp' ? 'last' : 'first';
      setOpen(true);
    }
  };

  const onMenuKeyDown = (event: KeyboardEvent) => {
    const list = items();
    const index = list.indexOf(document.activeElement as HTMLElement);
    const move = (i: number) => { event.preventDefault(); list[(i + list.length) % list.length]?.focus(); };
    switch (event.key) {
      case 'ArrowDown': return move(index + 1);
      case 'ArrowUp': return move(index - 1);
      case 'Home': return move(0);
      case 'End': return move(list.length - 1);
      case 'Escape': event.preventDefault(); event.stopPropagation(); return close(true);
      case 'Tab': return close(false);
      default: {
        // Type-ahead: the next item starting with the typed letter.
        if (event.key.length === 1 && /\S/.test(event.key)) {
          const k = event.key.toLocaleLowerCase('uk');
          const order = [...list.slice(index + 1), ...list.slice(0, index + 1)];
          const hit = order.find((el) => el.textContent?.trim().toLocaleLowerCase('uk').startsWith(k));
          if (hit) { event.preventDefault(); hit.focus(); }
        }
      }
    }
  };

  const choose = (action: KeyAction, enabled: boolean) => {
    if (!enabled) return;
    close(true);
    onSelect(action);
  };

  return (
    <div class="key-menu">
      <button
        ref={buttonRef}
        type="button"
        class="icon-button key-menu__button"
        aria-label={label}
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={open ? menuId : undefined}
        onClick={() => { focusOnOpen.current = 'first'; setOpen(!open); }}
        onKeyDown={onButtonKeyDown}
        data-testid="key-menu-button"
      >
        <svg aria-hidden="true" viewBox="0 0 24 24" width="20" height="20"><circle cx="12" cy="5" r="2" /><circle cx="12" cy="12" r="2" /><circle cx="12" cy="19" r="2" /></svg>
      </button>
      {open && (
        <ul
          ref={menuRef}
          id={menuId}
          role="menu"
          aria-label={label}
          class="key-menu__list"
          onKeyDown={onMenuKeyDown}
        >
          {MENU.map(({ action, label: text }) => {
            const enabled = keyAccount.actions.includes(action);
            const reasonId = `${menuId}-${action}`;
            return (
              <li role="none" key={action}>
                <button
                  type="button"
                  role="menuitem"
                  tabIndex={-1}
                  class={`key-menu__item${enabled ? '' : ' key-menu__item--disabled'}${action === 'form-temporary-hardware-key' ? ' key-menu__item--primary' : ''}`}
                  aria-disabled={enabled ? undefined : 'true'}
                  aria-describedby={enabled ? undefined : reasonId}
                  onClick={() => choose(action, enabled)}
                  data-action={action}
                >
                  <span>{text}</span>
                  {!enabled && <span id={reasonId} class="key-menu__reason">{unavailableReason(keyAccount, action)}</span>}
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
