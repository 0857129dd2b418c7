import { createPrivateKey } from 'node:crypto';
import { CompactSign } from 'jose';
import {
  TEMPORARY_KEY_AUTHORIZATION_TYP, temporaryKeyAuthorizationClaims, type AuthorizeTemporaryKeyV1, type RpcRequest, type RpcResponse, type TemporaryKeyAuthorizationClaims,
} from '@thk/contracts';
import { AppError } from '@thk/core';
import type { DataSource } from 'typeorm';
import { parseCertificate, type ParsedCertificate } from '../certificates/certificate-info.js';
import { canBaseTemporaryKeys, effectiveStatus } from '../keys/key-state.js';
import { notFound } from '../keys/key-queries.service.js';
import { keyAccountOfRow, type KeyAccountRow } from '../persistence/index.js';
import { accessBlocked, type Depository } from './depository.service.js';

/**
 * `AuthorizeTemporaryKey`: proves to the CA that the owner of a cloud key, knowing its password,
 * asked for this one temporary key. Refusals come in the order api.md fixes: `not-found`,
 * `key-not-eligible`, `key-access-blocked`, `wrong-password`.
 */
export class TemporaryKeyAuthorizer {
  /** Parsed base certificates by key id: parsing one (asn1) costs more CPU than the rest of a check. */
  private readonly certificates = new Map<string, ParsedCertificate>();

  constructor(
    private readonly ds: DataSource,
    private readonly depository: Depository,
    private readonly clock: () => Date,
    private readonly ttlSeconds: number,
  ) {}

  async authorize(request: RpcRequest<typeof AuthorizeTemporaryKeyV1>): Promise<RpcResponse<typeof AuthorizeTemporaryKeyV1>> {
    // The key and its depository record's lock in one plain-SQL statement: one round trip, and none of
    // TypeORM's per-query CPU, while the other two questions of the same call are being answered.
    const [row]: Array<KeyAccountRow & { access_blocked: boolean | null }> = await this.ds.query(KEY_AND_ACCESS, [request.baseKeyId]);
    const key = row ? keyAccountOfRow(row) : null;
    const blocked = row ? row.access_blocked : null;
    if (!key || key.userId !== request.userId) throw notFound(request.baseKeyId);
    const now = this.clock();
    const facts = { ...key, accessBlocked: blocked === true };
    if (blocked === null || !canBaseTemporaryKeys(facts, now) || key.certRevokedAt !== null || !key.certDer) {
      throw new AppError('key-not-eligible', 'only an active cloud key with a certificate valid now can form a temporary key', {
        meta: { keyId: key.id, kind: key.kind, status: effectiveStatus(key, now), certificateRevoked: key.certRevokedAt !== null },
      });
    }
    if (blocked) throw accessBlocked(key.id);

    const pkcs8 = await this.depository.open(key.id, request.password);
    let privateKey;
    try {
      privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    } finally {
      pkcs8.fill(0);
    }
    const certificate = this.certificateOf(key.id, key.certDer);
    const signedAt = this.clock();
    const iat = Math.floor(signedAt.getTime() / 1_000);
    const claims: TemporaryKeyAuthorizationClaims = temporaryKeyAuthorizationClaims.parse({
      sub: request.userId,
      jti: request.requestId,
      baseKeyId: key.id,
      tokenSerial: request.tokenSerial,
      validity: request.validity,
      notAfterCap: certificate.summary.notAfter,
      iat,
      exp: iat + this.ttlSeconds,
    });
    const authorization = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
      .setProtectedHeader({ alg: 'ES256', typ: TEMPORARY_KEY_AUTHORIZATION_TYP, x5c: [certificate.der.toString('base64')] })
      .sign(privateKey);
    return {
      authorization,
      expiresAt: new Date(claims.exp * 1_000).toISOString(),
      owner: {
        organization: key.ownerOrganization,
        edrpou: key.ownerEdrpou,
        fullName: key.ownerFullName,
        rnokpp: key.ownerRnokpp,
        position: key.ownerPosition,
      },
      subject: certificate.subject,
      baseCertificate: {
        serialNumber: certificate.summary.serialNumber,
        notBefore: certificate.summary.notBefore,
        notAfter: certificate.summary.notAfter,
        der: certificate.der.toString('base64'),
      },
    };
  }

  /** The key's certificate parsed, from the cache while the stored DER is the same (a renewal replaces it). */
  private certificateOf(keyId: string, der: Buffer): ParsedCertificate {
    const cached = this.certificates.get(keyId);
    if (cached && cached.der.equals(der)) return cached;
    const parsed = parseCertificate(der);
    if (this.certificates.size >= MAX_CACHED_CERTIFICATES) this.certificates.clear();
    this.certificates.set(keyId, parsed);
    return parsed;
  }
}

const MAX_CACHED_CERTIFICATES = 10_000;

/** The key, and whether its depository record is locked (`null`: the key has no record, so it cannot be a base). */
const KEY_AND_ACCESS = `SELECT k.*, CASE WHEN s.key_id IS NULL THEN NULL ELSE s.access_blocked_at IS NOT NULL END AS access_blocked
  FROM key_accounts k LEFT JOIN cloud_key_secrets s ON s.key_id = k.id WHERE k.id = $1`;
