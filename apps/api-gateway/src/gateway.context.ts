import type { Logger } from '@thk/core';
import type { RpcClient } from '@thk/messaging';
import type { DevTokenIssuer } from './auth/dev-token-issuer.js';
import type { GatewayConfig } from './config.js';
import type { ProgressFeed } from './hardware-key-requests/progress-feed.js';
import type { RateLimiter } from './rate-limit/token-bucket.js';
import type { AcceptedRequests } from './temporary-hardware-keys/accepted-requests.js';

/** What the HTTP controllers work with; built by `startApiGateway` and provided under `GATEWAY`. */
export interface GatewayContext {
  config: GatewayConfig;
  rpc: RpcClient;
  feed: ProgressFeed;
  limiter: RateLimiter;
  acceptedRequests: AcceptedRequests;
  /** Present in AUTH_MODE=dev only. */
  devIssuer: DevTokenIssuer | null;
  now: () => Date;
  log: Logger;
  openApiDocument: Record<string, unknown>;
  /** Closers of the open progress streams, ended on shutdown (clients resume with Last-Event-ID). */
  openStreams: Set<() => void>;
}

export const GATEWAY = Symbol('GATEWAY');
