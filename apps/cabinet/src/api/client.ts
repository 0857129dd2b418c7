// The page's only way out: fetch to the API gateway (same origin), bearer token from the dev login.
import type {
  Accepted, HardwareKeyRequestView, KeyAccount, KeyPage, Problem, TemporaryHardwareKeyBody, Token, Validity, ValidityPreview,
} from './types.js';

/** A refusal or failure of a call, with the API's stable code (or a code of the page's own: `network`). */
export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(`${problem.status} ${problem.code}: ${problem.detail ?? problem.title ?? ''}`);
    this.name = 'ApiError';
  }
  get code(): string { return this.problem.code; }
  get status(): number { return this.problem.status; }
}

export interface ApiClientOptions {
  baseUrl?: string;
  getToken: () => string | null;
  /** Called on any 401: the session is over. */
  onUnauthenticated?: () => void;
  fetch?: typeof fetch;
}

export function newIdempotencyKey(): string {
  const c = globalThis.crypto;
  if (typeof c.randomUUID === 'function') return c.randomUUID();
  const b = c.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

async function problemOf(res: Response): Promise<Problem> {
  const type = res.headers.get('content-type') ?? '';
  if (type.includes('json')) {
    try {
      const body = (await res.json()) as Partial<Problem>;
      if (typeof body.code === 'string') return { ...body, status: res.status, code: body.code };
    } catch { /* fall through */ }
  }
  const code = res.status === 401 ? 'unauthenticated' : res.status === 404 ? 'not-found' : res.status === 429 ? 'rate-limited' : res.status >= 500 ? 'service-unavailable' : 'http-error';
  return { status: res.status, code };
}

export class ApiClient {
  private readonly baseUrl: string;
  private readonly doFetch: typeof fetch;

  constructor(private readonly options: ApiClientOptions) {
    this.baseUrl = options.baseUrl ?? '';
    this.doFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  async request(path: string, init: RequestInit & { auth?: boolean } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (init.auth !== false) {
      const token = this.options.getToken();
      if (token) headers.set('authorization', `Bearer ${token}`);
    }
    let res: Response;
    try {
      res = await this.doFetch(`${this.baseUrl}${path}`, { ...init, headers });
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      throw new ApiError({ status: 0, code: 'network', detail: (error as Error).message });
    }
    if (!res.ok) {
      const problem = await problemOf(res);
      if (problem.status === 401 && init.auth !== false) this.options.onUnauthenticated?.();
      throw new ApiError(problem);
    }
    return res;
  }

  private async json<T>(path: string, init: RequestInit & { auth?: boolean } = {}): Promise<T> {
    const res = await this.request(path, { ...init, headers: { accept: 'application/json', ...(init.body ? { 'content-type': 'application/json' } : {}), ...(init.headers as Record<string, string> | undefined) } });
    return (await res.json()) as T;
  }

  devSession(rnokpp: string): Promise<{ accessToken: string; expiresAt: string }> {
    return this.json('/v1/dev/session', { method: 'POST', body: JSON.stringify({ rnokpp }), auth: false });
  }

  listKeys(limit: number, cursor: string | null, signal?: AbortSignal): Promise<KeyPage> {
    const q = new URLSearchParams({ limit: String(limit) });
    if (cursor) q.set('cursor', cursor);
    return this.json(`/v1/keys?${q}`, { signal });
  }

  getKey(keyId: string): Promise<KeyAccount> {
    return this.json(`/v1/keys/${encodeURIComponent(keyId)}`);
  }

  async certificate(keyId: string): Promise<Blob> {
    const res = await this.request(`/v1/keys/${encodeURIComponent(keyId)}/certificate`, { headers: { accept: 'application/pkix-cert' } });
    return res.blob();
  }

  async tokens(signal?: AbortSignal): Promise<Token[]> {
    return (await this.json<{ items: Token[] }>('/v1/tokens', { signal })).items;
  }

  preview(keyId: string, validity: Validity, signal?: AbortSignal): Promise<ValidityPreview> {
    return this.json(`/v1/keys/${encodeURIComponent(keyId)}/temporary-hardware-keys/preview?validity=${encodeURIComponent(validity)}`, { signal });
  }

  formTemporaryHardwareKey(keyId: string, body: TemporaryHardwareKeyBody, idempotencyKey: string): Promise<Accepted> {
    return this.json(`/v1/keys/${encodeURIComponent(keyId)}/temporary-hardware-keys`, {
      method: 'POST', body: JSON.stringify(body), headers: { 'idempotency-key': idempotencyKey },
    });
  }

  hardwareKeyRequest(requestId: string): Promise<HardwareKeyRequestView> {
    return this.json(`/v1/hardware-key-requests/${encodeURIComponent(requestId)}`);
  }
}
