// Operator commands over NATS request/reply (accounts' RPCs), as a support engineer would send them.
import { connect } from '@nats-io/transport-node';

export async function operatorRpc<T>(natsUrl: string, subject: string, request: unknown): Promise<T> {
  const nc = await connect({ servers: natsUrl });
  try {
    const reply = await nc.request(subject, JSON.stringify(request), { timeout: 15_000 });
    const body = reply.json<{ ok: boolean; data?: T; error?: { code: string; message: string } }>();
    if (!body.ok) throw new Error(`${subject}: ${body.error?.code}: ${body.error?.message}`);
    return body.data as T;
  } finally {
    await nc.close();
  }
}

export const UNBLOCK_KEY_ACCESS = 'accounts.rpc.unblock-key-access.v1';
export const BLOCK_KEY = 'accounts.rpc.block-key.v1';
