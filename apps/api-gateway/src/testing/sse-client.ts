export interface SseEvent { id: string | undefined; event: string | undefined; data: string }

export interface SseConnection {
  status: number;
  headers: Record<string, string>;
  /** The raw text received so far (comments and retry lines included). */
  readonly raw: string;
  /** The next event, or null once the server closed the stream. Rejects after `timeoutMs`. */
  next(timeoutMs?: number): Promise<SseEvent | null>;
  /** Every event until the server closes the stream. Rejects if it stays open past `timeoutMs`. */
  untilClosed(timeoutMs?: number): Promise<SseEvent[]>;
  close(): void;
}

/** A minimal Server-Sent Events client over fetch (what a browser's EventSource does, minus reconnection). */
export async function openSse(url: string, headers: Record<string, string>): Promise<SseConnection> {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let raw = '';
  let ended = false;
  const queue: SseEvent[] = [];

  const parseBlocks = () => {
    let index: number;
    while ((index = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, index);
      buffer = buffer.slice(index + 2);
      let id: string | undefined;
      let event: string | undefined;
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') id = value;
        else if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length) queue.push({ id, event, data: data.join('\n') });
    }
  };

  const readMore = async (deadline: number): Promise<void> => {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new Error(`no SSE data within the time allowed; received so far: ${JSON.stringify(raw)}`);
    let timer: NodeJS.Timeout | undefined;
    const chunk = await Promise.race([
      reader.read(),
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`SSE stream still open; received so far: ${JSON.stringify(raw)}`)), remaining); }),
    ]).finally(() => clearTimeout(timer));
    if (chunk.done) { ended = true; return; }
    const text = decoder.decode(chunk.value, { stream: true });
    raw += text;
    buffer += text;
    parseBlocks();
  };

  return {
    status: res.status,
    headers: Object.fromEntries(res.headers.entries()),
    get raw() { return raw; },
    async next(timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (queue.length === 0 && !ended) await readMore(deadline);
      return queue.shift() ?? null;
    },
    async untilClosed(timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (!ended) await readMore(deadline);
      return queue.splice(0);
    },
    close() { controller.abort(); },
  };
}
