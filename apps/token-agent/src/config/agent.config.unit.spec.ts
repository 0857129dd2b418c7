import { loadAgentConfig } from './agent.config.js';

describe('loadAgentConfig', () => {
  const base = { AGENT_ID: 'demo-agent', PKCS11_MODULE: '/a.so, /b.so' };

  it('reads the agent id, several module paths and the defaults (PIN policy 6–32)', () => {
    const c = loadAgentConfig({ ...base, AGENT_STATE_DIR: '/tmp/x', NATS_CREDS: '/creds' });
    expect(c).toMatchObject({
      agentId: 'demo-agent', modules: ['/a.so', '/b.so'], rescan: 'slot-list', stateDir: '/tmp/x', pinPolicy: { minLength: 6, maxLength: 32 },
      provisionStreams: true, allowFinalTry: false, nats: { servers: 'nats://127.0.0.1:4222', credsFile: '/creds' },
    });
    expect(c.soPin).toBeUndefined();
    expect(c.crashAt).toBeUndefined();
  });

  it('refuses a bad agent id, a missing module and an inverted PIN policy without echoing the SO PIN', () => {
    expect(() => loadAgentConfig({ ...base, AGENT_ID: 'Bad Id' })).toThrow(/AGENT_ID/);
    expect(() => loadAgentConfig({ AGENT_ID: 'a' })).toThrow(/PKCS11_MODULE/);
    const error = (() => { try { loadAgentConfig({ ...base, AGENT_SO_PIN: 'so-secret', AGENT_PIN_MIN_LENGTH: '10', AGENT_PIN_MAX_LENGTH: '8' }); } catch (e) { return e as Error; } return undefined; })();
    expect(error?.message).toMatch(/AGENT_PIN_MIN_LENGTH/);
    expect(error?.message).not.toContain('so-secret');
  });
});
