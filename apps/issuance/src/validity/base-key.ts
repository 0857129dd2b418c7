import type { GetKeyV1, RpcResponse } from '@thk/contracts';
import { AppError } from '@thk/core';

/**
 * Whether a key may be the base of a temporary key: an active cloud key (not itself temporary) whose
 * certificate is valid now and not revoked. Checked from `GetKeyV1` before the password is tried, so
 * that a blocked, expired or revoked key answers `key-not-eligible` whatever the password.
 * A key whose *access* is locked after wrong passwords is still `active`: the depository answers
 * `key-access-blocked` for it, in its place in the order.
 */
export function assertEligibleBase(reply: RpcResponse<typeof GetKeyV1>, now: Date): asserts reply is RpcResponse<typeof GetKeyV1> & { key: { certificate: NonNullable<RpcResponse<typeof GetKeyV1>['key']['certificate']> } } {
  const { key, certificateRevoked } = reply;
  const refuse = (why: string) => new AppError('key-not-eligible', `only an active cloud key with a certificate valid now can form a temporary key: ${why}`, { meta: { keyId: key.id, kind: key.kind, status: key.status } });
  if (key.kind !== 'cloud' || key.temporary) throw refuse(`this is a ${key.temporary ? 'temporary ' : ''}${key.kind} key`);
  if (key.status !== 'active') throw refuse(`the key is ${key.status}`);
  if (!key.certificate) throw refuse('the key has no certificate');
  if (certificateRevoked) throw refuse('its certificate is revoked');
  if (new Date(key.certificate.notBefore).getTime() > now.getTime()) throw refuse('its certificate is not valid yet');
  if (new Date(key.certificate.notAfter).getTime() <= now.getTime()) throw refuse('its certificate has expired');
}
