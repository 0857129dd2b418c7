import { gatewayConfigFromEnv } from './config.js';

describe('gatewayConfigFromEnv', () => {
  it('refuses AUTH_MODE=jwt without issuer, audience and keys', () => {
    expect(() => gatewayConfigFromEnv({ AUTH_MODE: 'jwt' })).toThrow(/AUTH_ISSUER.*AUTH_AUDIENCE.*AUTH_JWKS_URL/s);
    expect(() => gatewayConfigFromEnv({})).toThrow(/AUTH_ISSUER/);
  });

  it('reads a JWT configuration', () => {
    const config = gatewayConfigFromEnv({ AUTH_ISSUER: 'https://id.example', AUTH_AUDIENCE: 'cabinet', AUTH_JWKS_URL: 'https://id.example/jwks', HTTP_PORT: '9000' });
    expect(config.auth).toMatchObject({ mode: 'jwt', issuer: 'https://id.example', audience: 'cabinet', jwksUrl: 'https://id.example/jwks', publicKeyPem: null, userClaim: 'sub' });
    expect(config.http.port).toBe(9000);
  });

  it('runs in dev mode with defaults and no identity provider', () => {
    const config = gatewayConfigFromEnv({ AUTH_MODE: 'dev' });
    expect(config.auth).toMatchObject({ mode: 'dev', issuer: 'thk-dev', audience: 'thk-cabinet', devSecret: null });
    expect(config.cabinetDir).toMatch(/apps\/cabinet\/dist$/);
    expect(config.nats.servers).toBe('nats://127.0.0.1:4222');
  });

  it('reads rate limits as <burst>/<perMinute> and CABINET_DIR', () => {
    const config = gatewayConfigFromEnv({ AUTH_MODE: 'dev', RATE_LIMIT_PASSWORD_PER_USER: '20/30', RATE_LIMIT_PASSWORD_PER_KEY: '0/0', CABINET_DIR: '/srv/cabinet' });
    expect(config.rateLimit.perUser).toEqual({ burst: 20, perMinute: 30 });
    expect(config.rateLimit.perKey).toEqual({ burst: 0, perMinute: 0 });
    expect(config.rateLimit.perClient).toEqual({ burst: 20, perMinute: 20 });
    expect(config.cabinetDir).toBe('/srv/cabinet');
  });

  it('refuses a malformed rate limit and a short DEV_AUTH_SECRET', () => {
    expect(() => gatewayConfigFromEnv({ AUTH_MODE: 'dev', RATE_LIMIT_PASSWORD_PER_USER: 'ten' })).toThrow(/RATE_LIMIT_PASSWORD_PER_USER/);
    expect(() => gatewayConfigFromEnv({ AUTH_MODE: 'dev', DEV_AUTH_SECRET: 'short' })).toThrow(/DEV_AUTH_SECRET/);
  });
});
