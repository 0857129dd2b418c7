import { supportsTermReason } from './jetstream.server.js';

describe('supportsTermReason', () => {
  it('is false for servers that ignore `+TERM <reason>` (Debian 2.9.10) and for unknown versions', () => {
    for (const v of ['2.9.10', '2.9.25', '2.10.0', '2.10.3', '', undefined, 'garbage']) expect(supportsTermReason(v)).toBe(false);
  });
  it('is true from 2.10.4 on', () => {
    for (const v of ['2.10.4', '2.10.22', '2.11.0', 'v2.12.1', '3.0.0']) expect(supportsTermReason(v)).toBe(true);
  });
});
