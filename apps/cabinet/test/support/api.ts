// Ground truth for the browser tests, read from the same HTTP API the page uses.

export class TestApi {
  private token: string | null = null;
  constructor(private readonly baseUrl: string, private readonly rnokpp: string) {}

  async call<T>(path: string, init: RequestInit = {}): Promise<T> {
    if (!this.token && !path.startsWith('/v1/dev/')) {
      const s = await this.call<{ accessToken: string }>('/v1/dev/session', { method: 'POST', body: JSON.stringify({ rnokpp: this.rnokpp }) });
      this.token = s.accessToken;
    }
    const res = await fetch(`${this.baseUrl}${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...(init.headers as Record<string, string> | undefined) },
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path} → ${res.status}: ${text}`);
    return (text ? JSON.parse(text) : null) as T;
  }
}

/** `DD.MM.YYYY HH:mm` in Kyiv time, computed independently of the page's code. */
export function kyiv(iso: string): string {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/Kyiv', day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
  return `${parts['day']}.${parts['month']}.${parts['year']} ${parts['hour']}:${parts['minute']}`;
}

export async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 30_000, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
