// One forming request per intent. The generation form keeps the Idempotency-Key and the exact body
// it went out with (the sealed JWEs included) while its inputs stay the same, so that pressing
// «Згенерувати» again after an answer that never arrived (a network error, a 5xx, a timeout) repeats
// the same request, which the API answers as the same request (api.md), instead of starting a
// second formation. A changed input, a definite refusal or an acceptance ends it: the next press
// seals afresh under a new key.
import { ApiError, newIdempotencyKey } from './client.js';
import type { AgentKey, TemporaryHardwareKeyBody, Validity } from './types.js';

/** What the user asked for: everything the body is made from. */
export interface FormingInputs {
  keyId: string;
  validity: Validity;
  tokenId: string;
  /** The chosen token's sealing key: another key (the agent restarted) means another body. */
  agentKey: AgentKey;
  cloudKeyPassword: string;
  newKeyPassword: string;
  /** null when the token has no user PIN yet (nothing is sent for it). */
  currentTokenPassword: string | null;
}

export interface FormingAttempt {
  readonly idempotencyKey: string;
  readonly body: Readonly<TemporaryHardwareKeyBody>;
}

export type Sealer = (agentKey: AgentKey, password: string) => Promise<string>;

const agentKeyId = (k: AgentKey) => JSON.stringify([k.kty, k.crv, k.x, k.y, k.kid ?? null]);

export function sameInputs(a: FormingInputs, b: FormingInputs): boolean {
  return a.keyId === b.keyId
    && a.validity === b.validity
    && a.tokenId === b.tokenId
    && agentKeyId(a.agentKey) === agentKeyId(b.agentKey)
    && a.cloudKeyPassword === b.cloudKeyPassword
    && a.newKeyPassword === b.newKeyPassword
    && a.currentTokenPassword === b.currentTokenPassword;
}

/**
 * Whether a failed call may still have been carried out, so that a retry must repeat it exactly:
 * no answer at all (network), a server-side failure (5xx, gateway timeouts included), or an answer
 * that says "not now" rather than "no" (408, 429). Any other 4xx is a definite refusal. Anything
 * that is not an ApiError (an unreadable 2xx body, say) is treated as unknown too.
 */
export function answerMayBeLost(error: unknown): boolean {
  if (!(error instanceof ApiError)) return true;
  const { status } = error;
  return status === 0 || status >= 500 || status === 408 || status === 429;
}

export class FormingRequest {
  private kept: { inputs: FormingInputs; attempt: FormingAttempt } | null = null;

  constructor(private readonly seal: Sealer, private readonly newKey: () => string = newIdempotencyKey) {}

  /** Whether a retry of an attempt whose answer was lost is waiting. */
  get pending(): boolean {
    return this.kept !== null;
  }

  /**
   * What to send for these inputs: the kept attempt (same key, same body, same JWEs) when they are
   * unchanged, otherwise a new key with the passwords sealed afresh. A sealing failure keeps nothing.
   */
  async attempt(inputs: FormingInputs): Promise<FormingAttempt> {
    if (this.kept && sameInputs(this.kept.inputs, inputs)) return this.kept.attempt;
    this.kept = null;
    const newKeyPassword = await this.seal(inputs.agentKey, inputs.newKeyPassword);
    const currentTokenPassword = inputs.currentTokenPassword === null ? undefined : await this.seal(inputs.agentKey, inputs.currentTokenPassword);
    const attempt: FormingAttempt = Object.freeze({
      idempotencyKey: this.newKey(),
      body: Object.freeze({
        validity: inputs.validity,
        tokenId: inputs.tokenId,
        cloudKeyPassword: inputs.cloudKeyPassword,
        newKeyPassword,
        ...(currentTokenPassword !== undefined ? { currentTokenPassword } : {}),
      }),
    });
    this.kept = { inputs: { ...inputs, agentKey: { ...inputs.agentKey } }, attempt };
    return attempt;
  }

  /** The API accepted it (202): the next press is a new request. */
  accepted(attempt: FormingAttempt): void {
    if (this.kept?.attempt === attempt) this.kept = null;
  }

  /** The call failed: kept for a retry when its answer may have been lost, otherwise dropped. */
  failed(attempt: FormingAttempt, error: unknown): void {
    if (this.kept?.attempt === attempt && !answerMayBeLost(error)) this.kept = null;
  }

  forget(): void {
    this.kept = null;
  }
}
