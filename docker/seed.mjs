// One-shot seed for docker/compose.yaml (the `seed` service): the demo user with an active cloud key,
// and the demo token agent bound to them — what tools/stack/stack.mjs does for `npm start`, with its
// demo user and agent id, through the same accounts RPCs (there is no HTTP route that binds an agent).
// Idempotent: a second run finds the user and the binding and changes nothing. Runs in the api-gateway
// image (its node_modules and built libs) with tools/stack and tools/setup mounted beside it.
import 'reflect-metadata';
import { CreateDevUserV1, FindDevUserV1, RegisterAgentV1 } from '@thk/contracts';
import { connectNats, natsConfigFromEnv, RpcClient } from '@thk/messaging';
import { DEMO_AGENT_ID, DEMO_USER } from '../tools/stack/stack.mjs';

const agentId = process.env.AGENT_ID ?? DEMO_AGENT_ID;

/** The services are healthy before this runs; a replica that is still subscribing answers no-responders. */
async function retrying(what, call, deadline = Date.now() + 60_000) {
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (error?.code !== 'service-unavailable' || Date.now() > deadline) throw error;
      console.log(`seed: ${what}: ${error.message}; retrying`);
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}

const nc = await connectNats(natsConfigFromEnv('seed'));
try {
  const rpc = new RpcClient(nc, 15_000);
  let userId;
  try {
    ({ userId } = await retrying('find-dev-user', () => rpc.call(FindDevUserV1, { rnokpp: DEMO_USER.rnokpp })));
    console.log(`seed: demo user ${DEMO_USER.fullName} already seeded (${userId})`);
  } catch (error) {
    if (error?.code !== 'not-found') throw error;
    ({ userId } = await retrying('create-dev-user', () => rpc.call(CreateDevUserV1, { ...DEMO_USER, certificate: null }, { timeoutMs: 30_000 })));
    console.log(`seed: demo user ${DEMO_USER.fullName} (РНОКПП ${DEMO_USER.rnokpp}) seeded with an active cloud key (${userId})`);
  }
  try {
    await retrying('register-agent', () => rpc.call(RegisterAgentV1, { agentId, userId }));
    console.log(`seed: agent ${agentId} bound to the demo user`);
  } catch (error) {
    // As in tools/stack: an agent already bound to someone else is left as it is (said, not fatal).
    if (error?.code !== 'conflict') throw error;
    console.log(`seed: agent ${agentId} is registered to another user; left as it is`);
  }
} finally {
  await nc.close();
}
