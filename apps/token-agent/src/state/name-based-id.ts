import { createHash } from 'node:crypto';

/** The agent's namespace for name-based ids (a random v4 uuid, fixed forever). */
const NAMESPACE = Buffer.from('5d0c1f9e7a2b4c8d9e3f6a1b2c4d5e6f', 'hex');

/**
 * A UUID v5 (SHA-1, name-based) from the given parts. Events the agent may publish again after a
 * crash or a redelivery get an id derived from what caused them, so JetStream's `Nats-Msg-Id`
 * de-duplication and the consumers' inboxes absorb the repeat.
 */
export function nameBasedId(...parts: string[]): string {
  const hash = createHash('sha1').update(NAMESPACE).update(parts.join('\u0000')).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const h = hash.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
