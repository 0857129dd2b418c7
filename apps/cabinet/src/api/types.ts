// The shapes of api.md (Cabinet HTTP API v1) that the page uses.

export type KeyKind = 'cloud' | 'hardware' | 'file';
export type KeyStatus = 'pending' | 'active' | 'blocked' | 'expired' | 'revoked' | 'failed';
export type KeyAction =
  | 'view-application'
  | 'download-certificates'
  | 'check-certificate-status'
  | 'extend-certificate'
  | 'activate-access'
  | 'block-access'
  | 'change-password'
  | 'generate-access-token'
  | 'form-temporary-file-key'
  | 'form-temporary-hardware-key';

export interface KeyAccount {
  id: string;
  kind: KeyKind;
  temporary: boolean;
  baseKeyId: string | null;
  owner: { organization: string | null; edrpou: string | null; fullName: string; rnokpp: string; position: string | null };
  status: KeyStatus;
  createdAt: string;
  certificate: { serialNumber: string; subject: string; issuer: string; notBefore: string; notAfter: string } | null;
  token: { serial: string; model: string; label: string } | null;
  actions: KeyAction[];
}

export interface KeyPage { items: KeyAccount[]; nextCursor: string | null }

export interface AgentKey { kty: 'EC'; crv: 'P-256'; x: string; y: string; kid?: string; alg?: 'ECDH-ES'; use?: 'enc' }

export interface Token {
  tokenId: string;
  agentId: string;
  serial: string;
  model: string;
  label: string;
  display: string;
  userPinInitialized: boolean;
  algorithms: string[];
  agentKey: AgentKey;
}

export type Validity = 'P1D' | 'P1W' | 'P1M' | 'base';

export interface ValidityPreview { notBefore: string; notAfter: string; capped: boolean; cappedBy: 'base-certificate' | 'issuer' | null }

export interface TemporaryHardwareKeyBody {
  validity: Validity;
  tokenId: string;
  cloudKeyPassword: string;
  newKeyPassword: string;
  currentTokenPassword?: string;
  algorithm?: 'EC-P256' | 'RSA-2048';
}

export type RequestStatus =
  | 'requested' | 'key-generating' | 'key-generated' | 'certificate-issuing' | 'certificate-issued'
  | 'installing' | 'completed' | 'compensating' | 'failed';

export interface Accepted { requestId: string; status: RequestStatus; validity: { notAfter: string; capped: boolean } }

export interface Failure { code: string; detail: string }

export interface ProgressEvent {
  requestId: string;
  sequence: number;
  status: RequestStatus;
  at: string;
  keyId: string | null;
  failure: Failure | null;
}

export interface HardwareKeyRequestView {
  requestId: string;
  baseKeyId: string;
  status: RequestStatus;
  steps: { state: RequestStatus; at: string }[];
  validity: { notBefore?: string; notAfter: string; capped: boolean };
  keyId: string | null;
  failure: Failure | null;
}

/** RFC 9457 problem details with api.md's stable `code`. */
export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  code: string;
  remainingAttempts?: number;
}
