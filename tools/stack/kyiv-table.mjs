// The seed's key table in a terminal: columns and `з DD.MM.YYYY HH:mm по DD.MM.YYYY HH:mm` in Kyiv time.
const fmt = new Intl.DateTimeFormat('uk-UA', { timeZone: 'Europe/Kyiv', day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false });

export function kyiv(iso) {
  const parts = Object.fromEntries(fmt.formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
  return `${parts.day}.${parts.month}.${parts.year} ${parts.hour}:${parts.minute}`;
}

export function validityText(cert) {
  return cert ? `з ${kyiv(cert.notBefore)} по ${kyiv(cert.notAfter)}` : '—';
}

const STATUS = { pending: 'Очікує', active: 'Активний', blocked: 'Заблокований', expired: 'Термін дії минув', revoked: 'Скасований', failed: 'Помилка' };

export function keyRows(keys) {
  return keys.map((k) => [
    `${k.owner.organization ?? 'Фізична особа'}${k.owner.edrpou ? ` / ${k.owner.edrpou}` : ''}`,
    [k.owner.fullName, k.owner.rnokpp, k.owner.position].filter(Boolean).join(' / '),
    `${STATUS[k.status] ?? k.status}${k.temporary ? ` (тимчасовий ${k.kind === 'hardware' ? 'апаратний' : k.kind})` : k.kind === 'cloud' ? ' (хмарний)' : ''}`,
    kyiv(k.createdAt),
    validityText(k.certificate),
  ]);
}

export function renderTable(keys) {
  const header = ['Організація / ЄДРПОУ', 'ПІБ / РНОКПП / Посада', 'Статус', 'Дата створення', 'Термін дії сертифіката'];
  const rows = [header, ...keyRows(keys)];
  const widths = header.map((_, i) => Math.max(...rows.map((r) => [...r[i]].length)));
  const line = (r) => `│ ${r.map((c, i) => c + ' '.repeat(widths[i] - [...c].length)).join(' │ ')} │`;
  const sep = (l, m, r) => `${l}${widths.map((w) => '─'.repeat(w + 2)).join(m)}${r}`;
  return [sep('┌', '┬', '┐'), line(header), sep('├', '┼', '┤'), ...rows.slice(1).map(line), sep('└', '┴', '┘')].join('\n');
}
