import { SseParser } from './sse.js';

describe('SseParser', () => {
  describe('push', () => {
    it('parses the gateway stream: retry, events with ids, keep-alive comments', () => {
      const p = new SseParser();
      const out = p.push('retry: 2000\n\nid: 1\ndata: {"status":"requested"}\n\n: keep-alive\n\nid: 2\ndata: {"status":"key-generating"}\n\n');
      expect(out).toEqual([
        { id: '1', event: 'message', data: '{"status":"requested"}' },
        { id: '2', event: 'message', data: '{"status":"key-generating"}' },
      ]);
      expect(p.retryMs).toBe(2000);
      expect(p.lastEventId).toBe('2');
    });

    it('joins a message split across chunks, even inside a line or between \\r and \\n', () => {
      const p = new SseParser();
      expect(p.push('id: 7\r')).toEqual([]);
      expect(p.push('\ndata: {"a"')).toEqual([]);
      expect(p.push(':1}\r\n')).toEqual([]);
      expect(p.push('\r\n')).toEqual([{ id: '7', event: 'message', data: '{"a":1}' }]);
    });

    it('joins multi-line data with newlines and keeps the event name', () => {
      const p = new SseParser();
      expect(p.push('event: progress\ndata: line one\ndata: line two\n\n')).toEqual([{ id: null, event: 'progress', data: 'line one\nline two' }]);
    });

    it('ignores a blank line with no data and fields it does not know', () => {
      const p = new SseParser();
      expect(p.push('\n\nfoo: bar\n\n')).toEqual([]);
    });
  });
});
