/**
 * @jest-environment ./test/process-env.environment.cjs
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { GetCaCertificateV1, GetCrlV1, IssueCertificateV1 } from '@thk/contracts';
import { createSoftHsm, type SoftHsmEnvironment } from '@thk/testing';
import { CaGatewayHarness } from '../../testing/ca-gateway-harness.js';
import { opensslVerify } from '../../testing/openssl.js';

const run = promisify(execFile);
let hsm: SoftHsmEnvironment;
const h = new CaGatewayHarness();

beforeAll(async () => {
  hsm = await createSoftHsm();
  process.env['SOFTHSM2_CONF'] = hsm.conf;
  await hsm.createToken({ label: 'thk-ca', soPin: '87654321', userPin: '12345678' });
  await h.start({ config: { ca: { commonName: 'THK Test PKCS11 CA', organization: null, validityDays: 3_650, import: null, pkcs11: { module: hsm.modulePath, tokenLabel: 'thk-ca', pin: '12345678', keyLabel: 'thk-issuing-ca' } } } });
});
afterAll(async () => {
  await h.close();
  await hsm.cleanup();
});

describe('Pkcs11CaKey (the CA key in a SoftHSM token)', () => {
  describe('first start', () => {
    it('generates the CA key in the token, keeps nothing of it in the database, and issues verifiable certificates', async () => {
      const [row] = await h.gateway.dataSource.query('SELECT key_storage, sealed_key, pkcs11_key_label FROM ca_authority');
      expect(row).toEqual({ key_storage: 'pkcs11', sealed_key: null, pkcs11_key_label: 'thk-issuing-ca' });
      const { stdout } = await run('pkcs11-tool', ['--module', hsm.modulePath, '--token-label', 'thk-ca', '--login', '--pin', '12345678', '-O'], { env: { ...process.env, ...hsm.env } });
      expect(stdout).toMatch(/Private Key Object; EC[\s\S]*label:\s+thk-issuing-ca[\s\S]*Access:\s+sensitive, always sensitive, never extractable, local/);

      const base = await h.certifiedBaseKey();
      const { data } = await h.request(base);
      await h.send(IssueCertificateV1.subject(), h.issueEnvelope(data));
      const [issued] = await h.tap.waitFor((e) => e.envelope.data?.requestId === data.requestId);
      const { pem } = await h.rpc.call(GetCaCertificateV1, {});
      const crl = await h.rpc.call(GetCrlV1, {});
      expect(await opensslVerify(pem, Buffer.from(crl.der, 'base64'), Buffer.from(issued!.envelope.data.certificate.der, 'base64'))).toEqual({ ok: true, output: expect.stringContaining(': OK') });
    });
  });

  describe('restart', () => {
    it('finds the same key by its label and goes on signing', async () => {
      const before = await h.rpc.call(GetCaCertificateV1, {});
      await h.restart();
      const after = await h.rpc.call(GetCaCertificateV1, {});
      expect(after.pem).toBe(before.pem);
      const base = await h.certifiedBaseKey();
      const crl = await h.rpc.call(GetCrlV1, {});
      expect((await opensslVerify(after.pem, Buffer.from(crl.der, 'base64'), base.certificate)).ok).toBe(true);
    });
  });
});
