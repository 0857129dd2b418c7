import type { MessageContract, RpcContract } from './common/define.js';
import { AgentInventoryReportedV1 } from './agent/agent-inventory-reported.v1.js';
import { CertificateInstallFailedV1 } from './agent/certificate-install-failed.v1.js';
import { CertificateInstalledV1 } from './agent/certificate-installed.v1.js';
import { DestroyTokenKeyV1 } from './agent/destroy-token-key.v1.js';
import { GenerateTokenKeyV1 } from './agent/generate-token-key.v1.js';
import { InstallCertificateV1 } from './agent/install-certificate.v1.js';
import { TokenKeyDestroyedV1 } from './agent/token-key-destroyed.v1.js';
import { TokenKeyGeneratedV1 } from './agent/token-key-generated.v1.js';
import { TokenKeyGenerationFailedV1 } from './agent/token-key-generation-failed.v1.js';
import { KeyStatusChangedV1 } from './accounts/key-status-changed.v1.js';
import * as accountsRpc from './accounts/rpc.js';
import { CertificateIssuedV1 } from './ca/certificate-issued.v1.js';
import { CertificateRejectedV1 } from './ca/certificate-rejected.v1.js';
import { CertificateRevokedV1 } from './ca/certificate-revoked.v1.js';
import { IssueCertificateV1 } from './ca/issue-certificate.v1.js';
import { RevokeCertificateV1 } from './ca/revoke-certificate.v1.js';
import * as caRpc from './ca/rpc.js';
import { HardwareKeyRequestedV1 } from './issuance/hardware-key-requested.v1.js';
import { HardwareKeyRequestFailedV1 } from './issuance/hardware-key-request-failed.v1.js';
import { HardwareKeyRequestProgressedV1 } from './issuance/hardware-key-request-progressed.v1.js';
import * as issuanceRpc from './issuance/rpc.js';
import { TemporaryHardwareKeyFormedV1 } from './issuance/temporary-hardware-key-formed.v1.js';

/** Every persisted message the system knows, newest versions. */
export const messageContracts: readonly MessageContract<string, any, any>[] = [
  HardwareKeyRequestedV1, HardwareKeyRequestProgressedV1, TemporaryHardwareKeyFormedV1, HardwareKeyRequestFailedV1,
  GenerateTokenKeyV1, TokenKeyGeneratedV1, TokenKeyGenerationFailedV1,
  InstallCertificateV1, CertificateInstalledV1, CertificateInstallFailedV1,
  DestroyTokenKeyV1, TokenKeyDestroyedV1, AgentInventoryReportedV1,
  IssueCertificateV1, CertificateIssuedV1, CertificateRejectedV1, RevokeCertificateV1, CertificateRevokedV1,
  KeyStatusChangedV1,
];

export const rpcContracts: readonly RpcContract<any, any>[] = ([
  ...Object.values(accountsRpc), ...Object.values(caRpc), ...Object.values(issuanceRpc),
] as unknown[]).filter((c): c is RpcContract<any, any> => typeof c === 'object' && c !== null && (c as { kind?: string }).kind === 'rpc');

const byTypeVersion = new Map<string, MessageContract<string, any, any>>();
for (const c of messageContracts) byTypeVersion.set(`${c.type}@${c.version}`, c);

/** Finds the contract of an envelope's `type` and `version`, or of a newer version that upcasts it. */
export function findMessageContract(type: string, version: number): { contract: MessageContract<string, any, any>; upcast?: (data: unknown) => unknown; schema: MessageContract['schema'] } | undefined {
  const exact = byTypeVersion.get(`${type}@${version}`);
  if (exact) return { contract: exact, schema: exact.schema };
  for (const c of messageContracts) {
    if (c.type !== type) continue;
    const up = c.upcasters?.find((u) => u.version === version);
    if (up) return { contract: c, schema: up.schema, upcast: up.upcast };
  }
  return undefined;
}

/** Does a concrete NATS subject match a subject pattern (`*` one token, `>` the rest)? */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

/** The JetStream streams of the system. Queries (`*.rpc.*`) are core NATS and never captured. */
export const streams = {
  issuance: { name: 'ISSUANCE', subjects: ['issuance.evt.>', 'issuance.cmd.>'] },
  accounts: { name: 'ACCOUNTS', subjects: ['accounts.evt.>', 'accounts.cmd.>'] },
  ca: { name: 'CA', subjects: ['ca.evt.>', 'ca.cmd.>'] },
  agents: { name: 'AGENTS', subjects: ['agent.*.evt.>', 'agent.*.cmd.>'] },
  deadLetters: { name: 'DEAD_LETTERS', subjects: ['dlq.>'] },
} as const;

export type StreamName = (typeof streams)[keyof typeof streams]['name'];

/** The stream a subject belongs to. */
export function streamForSubject(subject: string): StreamName | undefined {
  for (const s of Object.values(streams)) if (s.subjects.some((p) => subjectMatches(p, subject))) return s.name;
  return undefined;
}

/** The agent id carried by an `agent.<id>.…` subject. */
export function agentIdOfSubject(subject: string): string | undefined {
  const parts = subject.split('.');
  return parts[0] === 'agent' && parts.length > 2 ? parts[1] : undefined;
}
