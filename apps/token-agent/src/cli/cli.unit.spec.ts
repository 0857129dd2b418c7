import type { InventoryToken } from '@thk/contracts';
import { formatStatus } from './status.command.js';
import { pinStateText, tokenLine } from './token-lines.js';

const token: InventoryToken = {
  serial: '220771', model: 'е.ключ IIT Алмаз-1К', label: 'token', manufacturer: 'IIT', userPinInitialized: true,
  userPinLocked: false, userPinCountLow: false, userPinFinalTry: false, algorithms: ['EC-P256'],
};

describe('token lines', () => {
  it('shows a token as <serial>(<model>) with its PIN state in words', () => {
    expect(tokenLine(token)).toBe('  220771(е.ключ IIT Алмаз-1К)  label "token"  PIN set  algorithms: EC-P256');
    expect(pinStateText({ ...token, userPinInitialized: false })).toBe('no PIN yet (set by the first key generation)');
    expect(pinStateText({ ...token, userPinLocked: true })).toBe('PIN locked');
    expect(pinStateText({ ...token, userPinFinalTry: true })).toBe('PIN set, one try left');
  });
});

describe('formatStatus', () => {
  const status = {
    agentId: 'demo-agent', pid: process.pid, startedAt: '2026-01-01T10:00:00.000Z', updatedAt: '2026-01-01T10:00:10.000Z', running: true, modules: ['/m.so'],
    nats: { state: 'reconnecting' as const, server: '127.0.0.1:4222', since: '2026-01-01T10:00:05.000Z' }, tokens: [token],
    scannedAt: null, reportedAt: '2026-01-01T10:00:01.000Z', lastError: null,
    activity: [{ kind: 'generate-token-key' as const, requestId: 'r-1', tokenSerial: '220771', since: '2026-01-01T10:00:09.000Z' }],
  };

  it('shows connection state, tokens and the work in flight of a running agent', () => {
    const text = formatStatus({ status, alive: true, pendingWork: [] }, new Date('2026-01-01T10:00:12.000Z'));
    expect(text).toContain(`Agent demo-agent: running (pid ${process.pid})`);
    expect(text).toContain('Connection: reconnecting to 127.0.0.1:4222');
    expect(text).toContain('status written 2 s ago');
    expect(text).toContain('220771(е.ключ IIT Алмаз-1К)');
    expect(text).toContain('generate-token-key for request r-1 on token 220771');
  });

  it('says when the agent died with work left in its journal', () => {
    const text = formatStatus({ status, alive: false, pendingWork: [{ requestId: 'r-2', tokenSerial: '220771', what: 'key generated, result not yet published', since: 'x' }] });
    expect(text).toContain('not running (pid');
    expect(text).toContain('request r-2 on token 220771: key generated, result not yet published');
    expect(formatStatus({ status: undefined, alive: false, pendingWork: [] })).toContain('has not run with this state directory yet');
  });
});
