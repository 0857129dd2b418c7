// Turns a service's pino JSON lines into short readable lines with a coloured prefix.
const COLORS = [36, 35, 33, 32, 34, 96, 95];
const LEVELS = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const SKIP = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'service', 'v']);

export function prefixer(name, index, width = 12) {
  const color = COLORS[index % COLORS.length];
  const tag = `\x1b[${color}m${name.padEnd(width)}\x1b[0m│`;
  return (line) => {
    if (!line.trim()) return null;
    let rec;
    try { rec = JSON.parse(line); } catch { return `${tag} ${line}`; }
    if (typeof rec !== 'object' || rec === null || !('msg' in rec || 'level' in rec)) return `${tag} ${line}`;
    const time = typeof rec.time === 'string' ? rec.time.slice(11, 19) : new Date(rec.time ?? Date.now()).toISOString().slice(11, 19);
    const level = LEVELS[rec.level] ?? String(rec.level);
    const levelColored = rec.level >= 50 ? `\x1b[31m${level}\x1b[0m` : rec.level >= 40 ? `\x1b[33m${level}\x1b[0m` : level;
    const extra = Object.entries(rec).filter(([k]) => !SKIP.has(k)).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' ');
    return `${tag} ${time} ${levelColored} ${rec.msg ?? ''}${extra ? ` \x1b[2m${extra.slice(0, 400)}\x1b[0m` : ''}`;
  };
}
