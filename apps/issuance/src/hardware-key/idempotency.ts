import { createHash } from 'node:crypto';
import type { RequestTemporaryHardwareKeyV1, RpcRequest } from '@thk/contracts';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('base64url');

/**
 * The fingerprint of a start request, to tell "the same request again" from "another request under a
 * used idempotency key". It covers what the request asks for; the cloud key password is left out
 * entirely (it is never persisted, not even hashed: a password hash at rest is a guessing target).
 * The sealed token passwords are ciphertexts that only the agent can open (the same ones travel in
 * `GenerateTokenKey`); their digests distinguish a retried body from a new one.
 */
export function startInputHash(req: RpcRequest<typeof RequestTemporaryHardwareKeyV1>): string {
  const normalized = [
    'thk.issuance.request-temporary-hardware-key.v1',
    req.userId.toLowerCase(),
    req.baseKeyId.toLowerCase(),
    req.validity,
    req.tokenId,
    req.algorithm,
    sha256(req.newKeyPassword),
    req.currentTokenPassword === null ? null : sha256(req.currentTokenPassword),
  ];
  return sha256(JSON.stringify(normalized));
}
