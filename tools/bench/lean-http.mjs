// The benchmarks' HTTP client: node:http with keep-alive, no fetch. The client shares the machine's two
// cores with the system it measures (a browser would not), and undici's fetch with its web streams costs
// several milliseconds of CPU per formation, in the very window where the services work; this costs a
// fraction of that. The SSE reading is tools/stack/sse.mjs's, as in the demo's `followEvents`.
import http from 'node:http';
import { sseReader } from '../stack/sse.mjs';

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** Sends one request (`body`: a string, sent as JSON); resolves with the status and the body's text. */
export function request(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(body);
    const req = http.request(url, { method, agent, headers: { ...headers, ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** `request` with a JSON body in and out (`json`: null for an empty body). */
export async function requestJson(url, { body, ...options } = {}) {
  const { status, text } = await request(url, { ...options, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status, json: text ? JSON.parse(text) : null };
}

/** Reads a Server-Sent Events stream until the server closes it; returns the events (`json`: the parsed data). */
export function followSse(url, token, onEvent, timeoutMs = 120_000) {
  return new Promise((resolve, reject) => {
    const events = [];
    const req = http.get(url, { agent, headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, timeout: timeoutMs }, (res) => {
      if (res.statusCode !== 200) { res.resume(); reject(new Error(`GET ${url} → ${res.statusCode}`)); return; }
      res.setEncoding('utf8');
      res.on('data', sseReader((ev) => { events.push(ev); onEvent?.(ev); }));
      res.on('end', () => resolve(events));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no end within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** Closes the client's kept-alive sockets (a benchmark that ends before its servers do). */
export function closeClient() {
  agent.destroy();
}
