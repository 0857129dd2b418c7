import { GetKeyV1, type PreviewValidityV1, type RpcRequest, type RpcResponse } from '@thk/contracts';
import { AppError } from '@thk/core';
import type { RpcClient } from '@thk/messaging';
import type { Clock } from '../config/issuance.config.js';
import { assertEligibleBase } from './base-key.js';
import type { IssuerValidity } from './issuer-validity.service.js';
import { decideValidity, type ValidityPolicySettings } from './validity-policy.js';

/**
 * `PreviewValidity`: what the dialog shows before the user confirms — the same policy as the request,
 * refusing in the same order less the password and token steps (`not-found`, `key-not-eligible`,
 * `base-certificate-expiring`).
 */
export class PreviewValidityService {
  constructor(
    private readonly rpc: RpcClient,
    private readonly issuer: IssuerValidity,
    private readonly clock: Clock,
    private readonly settings: ValidityPolicySettings,
    private readonly rpcTimeoutMs: number,
  ) {}

  async preview(req: RpcRequest<typeof PreviewValidityV1>): Promise<RpcResponse<typeof PreviewValidityV1>> {
    const reply = await this.rpc.call(GetKeyV1, { userId: req.userId, keyId: req.keyId }, { timeoutMs: this.rpcTimeoutMs });
    const now = this.clock();
    assertEligibleBase(reply, now);
    const certificate = reply.key.certificate;
    const decision = decideValidity({
      option: req.validity,
      now,
      base: { notBefore: new Date(certificate.notBefore), notAfter: new Date(certificate.notAfter), revoked: reply.certificateRevoked },
      issuerNotAfter: await this.issuer.notAfter(),
    }, this.settings);
    if (!decision.ok) throw new AppError(decision.code, decision.message, { meta: { reason: decision.reason } });
    const { notBefore, notAfter, capped, cappedBy } = decision.window;
    return { notBefore, notAfter, capped, cappedBy };
  }
}
