// Reading a Server-Sent Events stream (the gateway's `/events`), whatever carries the bytes: the demo's
// fetch, the benchmarks' node:http.

/**
 * A reader that takes the stream's text as it comes, in chunks of any size, and calls `onEvent` for
 * every complete event that carries data: `{ id, event, data, json }` (`json`: the data parsed; the
 * gateway's events are JSON). Comment-only blocks (keep-alives) are skipped.
 */
export function sseReader(onEvent) {
  let buffer = '';
  return (text) => {
    buffer += text;
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
      onEvent(ev);
    }
  };
}
