import { connect, credsAuthenticator, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { readFileSync } from 'node:fs';

export interface NatsConnectionConfig {
  /** One or more `nats://host:port` URLs (comma-separated in env). */
  servers: string | string[];
  /** Client name shown by the server (`nats server report connections`). */
  name: string;
  /** Path to a `.creds` file (per-agent credentials), or user/password, or a token. */
  credsFile?: string;
  user?: string;
  pass?: string;
  token?: string;
  /** TLS: production connections are always TLS; the CA file pins the server's issuer. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string } | null;
}

/** Opens a NATS connection that reconnects forever (a service outlives a server restart). */
export async function connectNats(config: NatsConnectionConfig): Promise<NatsConnection> {
  const servers = typeof config.servers === 'string' ? config.servers.split(',').map((s) => s.trim()).filter(Boolean) : config.servers;
  const options: ConnectionOptions = {
    servers,
    name: config.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    timeout: 5_000,
    // nats.js otherwise builds an Error (a captured stack) up front for every request — each
    // JetStream publish and double ack is one — only to enrich a failure's trace: ~1.3 ms of CPU per
    // formation in the issuance process alone (tools/bench/issuance-saga.mjs under --cpu-prof).
    noAsyncTraces: true,
    ...(config.user ? { user: config.user, pass: config.pass } : {}),
    ...(config.token ? { token: config.token } : {}),
    ...(config.credsFile ? { authenticator: credsAuthenticator(readFileSync(config.credsFile)) } : {}),
  };
  if (config.tls) {
    options.tls = {
      ...(config.tls.caFile ? { caFile: config.tls.caFile } : {}),
      ...(config.tls.certFile ? { certFile: config.tls.certFile } : {}),
      ...(config.tls.keyFile ? { keyFile: config.tls.keyFile } : {}),
    };
  }
  return connect(options);
}

export function natsConfigFromEnv(name: string, env: NodeJS.ProcessEnv = process.env): NatsConnectionConfig {
  return {
    servers: env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
    name,
    ...(env['NATS_CREDS'] ? { credsFile: env['NATS_CREDS'] } : {}),
    ...(env['NATS_USER'] ? { user: env['NATS_USER'], pass: env['NATS_PASS'] ?? '' } : {}),
    ...(env['NATS_TOKEN'] ? { token: env['NATS_TOKEN'] } : {}),
    tls: env['NATS_TLS_CA'] || env['NATS_TLS_CERT']
      ? { caFile: env['NATS_TLS_CA'], certFile: env['NATS_TLS_CERT'], keyFile: env['NATS_TLS_KEY'] }
      : null,
  };
}
