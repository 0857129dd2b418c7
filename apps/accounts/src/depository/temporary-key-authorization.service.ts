import {
  TEMPORARY_KEY_AUTHORIZATION_TYP, temporaryKeyAuthorizationClaims, type AuthorizeTemporaryKeyV1, type RpcRequest, type RpcResponse, type TemporaryKeyAuthorizationClaims,
} from '@thk/contracts';
import { AppError } from '@thk/core';
import { queryPrepared } from '@thk/persistence';
import { importPrivateKey, signCompactEs256 } from '@thk/pki';
import type { DataSource } from 'typeorm';
import { parseCertificate, type ParsedCertificate } from '../certificates/certificate-info.js';
import { canBaseTemporaryKeys, effectiveStatus } from '../keys/key-state.js';
import { notFound } from '../keys/key-queries.service.js';
import { keyAccountOfRow, type KeyAccountRow } from '../persistence/index.js';
import { accessBlocked, RESERVABLE, type Depository } from './depository.service.js';
import type { SealedKey } from './key-sealing.js';

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
    // One plain-SQL statement: the key, its depository record's lock and, when the key can be a base,
    // this attempt counted (see KEY_ACCESS_AND_ATTEMPT): one round trip before the KDF instead of two,
    // and none of TypeORM's per-query CPU while the other two questions of the same call are answered.
    const now = this.clock();
    // Prepared: the statement before the KDF.
    const [row]: KeyAccessAndAttemptRow[] = await queryPrepared(this.ds, KEY_ACCESS_AND_ATTEMPT, [request.baseKeyId, this.depository.maxAttempts, now, request.userId]);
    const key = row ? keyAccountOfRow(row) : null;
    const blocked = row ? row.access_blocked : null;
    const reserved: SealedKey | undefined = row?.reserved_sealed ? { kdf: row.reserved_kdf!, kekId: row.reserved_kek_id!, sealed: row.reserved_sealed } : undefined;
    try {
      if (!key || key.userId !== request.userId) throw notFound(request.baseKeyId);
      const facts = { ...key, accessBlocked: blocked === true };
      if (blocked === null || !canBaseTemporaryKeys(facts, now) || key.certRevokedAt !== null || !key.certDer) {
        throw new AppError('key-not-eligible', 'only an active cloud key with a certificate valid now can form a temporary key', {
          meta: { keyId: key.id, kind: key.kind, status: effectiveStatus(key, now), certificateRevoked: key.certRevokedAt !== null },
        });
      }
      if (blocked) throw accessBlocked(key.id);
    } catch (refusal) {
      // The statement's rule and these checks are the same; should they ever part, the attempt is not kept.
      if (reserved) await this.depository.giveBack(request.baseKeyId);
      throw refusal;
    }

    // The depository opens the key with the record the statement reserved; without one (every attempt
    // in use, or a lock since), it counts the attempt itself and tells which refusal it is. The
    // authorization is signed while it records the right password (the counter reset): the two
    // overlap, and the answer leaves only once the reset is durable. The opened key is its to wipe.
    const certDer = key.certDer;
    const { authorization, certificate, claims } = await this.depository.open(key.id, request.password, reserved, async (pkcs8) => {
      // Through its scalar and point: OpenSSL 3's PKCS#8 decoder took ~1 ms here, after the KDF.
      const privateKey = importPrivateKey(pkcs8);
      const certificate = this.certificateOf(key.id, certDer);
      const iat = Math.floor(this.clock().getTime() / 1_000);
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
      // Synchronous (node:crypto): jose's WebCrypto signature is a thread-pool hop after the KDF.
      const authorization = signCompactEs256(
        { alg: 'ES256', typ: TEMPORARY_KEY_AUTHORIZATION_TYP, x5c: [certificate.der.toString('base64')] },
        new TextEncoder().encode(JSON.stringify(claims)),
        privateKey,
      );
      return { authorization, certificate, claims };
    });
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

type KeyAccessAndAttemptRow = KeyAccountRow & {
  access_blocked: boolean | null;
  reserved_kdf: SealedKey['kdf'] | null;
  reserved_kek_id: string | null;
  reserved_sealed: Buffer | null;
};

/**
 * `$1` key id, `$2` the depository's maximum of attempts, `$3` now, `$4` the user: the key; whether its
 * depository record is locked (`null`: it has none, so it cannot be a base); and, only for the user's
 * own key that the checks above will let through (an active cloud key, not temporary, with a
 * certificate valid at `$3` and not revoked), this attempt counted by the depository's own rule
 * (`RESERVABLE`) and the sealed record it opens. A key refused by those checks is never counted.
 */
const KEY_ACCESS_AND_ATTEMPT = `WITH k AS (
    SELECT k.*, CASE WHEN s.key_id IS NULL THEN NULL ELSE s.access_blocked_at IS NOT NULL END AS access_blocked
      FROM key_accounts k LEFT JOIN cloud_key_secrets s ON s.key_id = k.id WHERE k.id = $1),
  counted AS (
    UPDATE cloud_key_secrets SET failed_attempts = failed_attempts + 1, updated_at = $3
      FROM k WHERE cloud_key_secrets.key_id = k.id AND k.user_id = $4 AND k.kind = 'cloud' AND NOT k.temporary AND k.status = 'active'
        AND k.cert_der IS NOT NULL AND k.cert_revoked_at IS NULL AND k.cert_not_before <= $3 AND $3 < k.cert_not_after
        AND ${RESERVABLE}
      RETURNING cloud_key_secrets.kdf, cloud_key_secrets.kek_id, cloud_key_secrets.sealed)
  SELECT k.*, counted.kdf AS reserved_kdf, counted.kek_id AS reserved_kek_id, counted.sealed AS reserved_sealed FROM k LEFT JOIN counted ON true`;
