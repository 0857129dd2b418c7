// The benchmarks' HTTP client: node:http with keep-alive, no fetch. The client shares the machine's two
// cores with the system it measures (a browser would not), and undici's fetch with its web streams costs
// several milliseconds of CPU per formation, in the very window where the services work; this costs a
// fraction of that. Same requests, same SSE reading as tools/stack/demo-flow.mjs's `followEvents`.
import http from 'node:http';

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** Sends one request; resolves with the status and the body parsed as JSON (null when empty). */
export function requestJson(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(url, { method, agent, headers: { ...headers, ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try { resolve({ status: res.statusCode, json: text ? JSON.parse(text) : null }); } catch (error) { reject(error); }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Reads a Server-Sent Events stream until the server closes it; returns the events (`json`: the parsed data). */
export function followSse(url, token, onEvent, timeoutMs = 120_000) {
  return new Promise((resolve, reject) => {
    const events = [];
    const req = http.get(url, { agent, headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, timeout: timeoutMs }, (res) => {
      if (res.statusCode !== 200) { res.resume(); reject(new Error(`GET ${url} → ${res.statusCode}`)); return; }
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk) => {
        buffer += chunk;
        let idx;
        while ((idx = buffer.indexOf('\n\n')) >= 0) {
          const raw = buffer.slice(0, idx);
          buffer = buffer.slice(idx + 2);
          const ev = { id: null, event: 'message', data: '' };
          for (const line of raw.split('\n')) {
            if (line.startsWith('id:')) ev.id = line.slice(3).trim();
            else if (line.startsWith('event:')) ev.event = line.slice(6).trim();
            else if (line.startsWith('data:')) ev.data += line.slice(5).trim();
          }
          if (!ev.data) continue;
          ev.json = JSON.parse(ev.data);
          events.push(ev);
          onEvent?.(ev);
        }
      });
      res.on('end', () => resolve(events));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no end within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
