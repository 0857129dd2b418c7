import { z } from 'zod';

export const uuid = z.uuid();
export const isoDateTime = z.iso.datetime({ offset: true });
/** Base64 (standard alphabet) of DER bytes; bounded so a message cannot carry megabytes. */
export const derBase64 = z.string().min(4).max(65_536).regex(/^[A-Za-z0-9+/]+={0,2}$/, 'base64 DER expected');
/** A compact JWE (five dot-separated base64url parts). */
export const compactJwe = z.string().min(20).max(4_096).regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'compact JWE expected');
/** A compact JWS (three dot-separated base64url parts). */
export const compactJws = z.string().min(20).max(32_768).regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'compact JWS expected');
export const agentId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'agent id: lower-case letters, digits and dashes');
export const tokenSerial = z.string().min(1).max(64);
/** CKA_ID as lower-case hex. */
export const ckaIdHex = z.string().regex(/^[0-9a-f]{2,128}$/, 'CKA_ID as lower-case hex');
export const certificateSerialHex = z.string().regex(/^[0-9a-f]{1,64}$/, 'serial number as lower-case hex');

export const validityOption = z.enum(['P1D', 'P1W', 'P1M', 'base']);
export type ValidityOption = z.infer<typeof validityOption>;

export const keyAlgorithm = z.enum(['EC-P256', 'RSA-2048']);
export type KeyAlgorithm = z.infer<typeof keyAlgorithm>;

export const cappedBy = z.enum(['base-certificate', 'issuer']).nullable();

export const validityWindow = z.strictObject({
  option: validityOption,
  notBefore: isoDateTime,
  notAfter: isoDateTime,
  capped: z.boolean(),
  cappedBy,
});
export type ValidityWindow = z.infer<typeof validityWindow>;

/** The subject of a qualified certificate for a natural person (optionally representing an organisation). */
export const personSubject = z.strictObject({
  commonName: z.string().min(1).max(256),
  surname: z.string().max(128).nullable(),
  givenName: z.string().max(128).nullable(),
  /** РНОКПП as the subject's serialNumber attribute, e.g. `TINUA-1111111111`. */
  serialNumber: z.string().min(1).max(64),
  organization: z.string().max(256).nullable(),
  organizationIdentifier: z.string().max(64).nullable(),
  title: z.string().max(128).nullable(),
  country: z.literal('UA'),
});
export type PersonSubject = z.infer<typeof personSubject>;

/** Evidence, read back from the token, that the key was born there and never left it. */
export const keyEvidence = z.strictObject({
  local: z.boolean(),
  neverExtractable: z.boolean(),
  alwaysSensitive: z.boolean(),
  attestation: z.string().max(16_384).nullable(),
});
export type KeyEvidence = z.infer<typeof keyEvidence>;

export const tokenRef = z.strictObject({
  agentId,
  tokenId: z.string().min(1).max(200),
  serial: tokenSerial,
  model: z.string().max(128),
  label: z.string().max(128),
});
export type TokenRef = z.infer<typeof tokenRef>;

export const certificateSummary = z.strictObject({
  serialNumber: certificateSerialHex,
  subject: z.string().max(2_048),
  issuer: z.string().max(2_048),
  notBefore: isoDateTime,
  notAfter: isoDateTime,
});
export type CertificateSummary = z.infer<typeof certificateSummary>;

export const owner = z.strictObject({
  organization: z.string().max(256).nullable(),
  edrpou: z.string().max(16).nullable(),
  fullName: z.string().min(1).max(256),
  rnokpp: z.string().min(1).max(16),
  position: z.string().max(128).nullable(),
});
export type Owner = z.infer<typeof owner>;
