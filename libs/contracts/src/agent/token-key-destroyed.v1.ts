import { z } from 'zod';
import { defineAgentMessage } from '../common/define.js';
import { tokenSerial, uuid } from '../common/primitives.js';

/**
 * Why the agent could not destroy the request's private key (a private object, visible only after
 * a login with the token's user PIN): the command carried no sealed PIN (`no-token-password`); the
 * agent's journal cannot tell that the token's PIN is the one the command carries, e.g. it stopped
 * while changing the PIN (`token-password-unknown`: no login is risked); or the login was refused
 * (the other codes, as in `TokenKeyGenerationFailed`).
 */
export const privateKeyRemainingCode = z.enum([
  'no-token-password',
  'token-password-unknown',
  'token-pin-locked',
  'wrong-token-password',
  'sealed-password-invalid',
  'token-error',
]);
export type PrivateKeyRemainingCode = z.infer<typeof privateKeyRemainingCode>;

export const TokenKeyDestroyedV1 = defineAgentMessage({
  kind: 'event', type: 'TokenKeyDestroyed', version: 1, name: 'token-key-destroyed',
  schema: z.strictObject({
    requestId: uuid,
    tokenSerial,
    /** Objects destroyed now; 0 when nothing had been created or it was already destroyed. */
    destroyedObjects: z.number().int().min(0),
    /**
     * Present when the request's private key is (or may be) still on the token: only public objects
     * could be destroyed. Absent when nothing private is left (and from agents that predate the field).
     * Optional, so v1 stays compatible both ways.
     */
    privateKeyRemaining: z.strictObject({ code: privateKeyRemainingCode, message: z.string().max(1_000) }).optional(),
  }),
});
export type TokenKeyDestroyedV1 = z.infer<typeof TokenKeyDestroyedV1.schema>;
