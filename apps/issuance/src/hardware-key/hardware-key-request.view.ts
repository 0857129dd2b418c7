import type { HardwareKeyRequestView } from '@thk/contracts';
import { failureDetail, type StartedState } from './hardware-key.saga.js';

/** api.md's `GET /v1/hardware-key-requests/{id}` shape, from the saga's state. */
export function toRequestView(state: StartedState): HardwareKeyRequestView {
  const { request } = state;
  return {
    requestId: request.requestId,
    baseKeyId: request.baseKeyId,
    status: state.status,
    steps: state.steps.map((s) => ({ state: s.state, at: s.at })),
    validity: { notBefore: request.validity.notBefore, notAfter: request.validity.notAfter, capped: request.validity.capped },
    keyId: state.status === 'completed' ? request.keyAccountId : null,
    failure: state.status === 'failed' || state.status === 'compensating' ? { code: state.failure.code, detail: failureDetail(state) } : null,
  };
}
