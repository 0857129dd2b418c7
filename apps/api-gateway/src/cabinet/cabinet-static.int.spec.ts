import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { startApiGateway, type RunningApiGateway } from '../api-gateway.app.js';
import { createIdentityProvider, expectProblem, httpCall, testConfig } from '../testing/gateway-harness.js';
import { startTestNats, type TestNats } from '@thk/testing';

/** A raw request, so that the path reaches the server exactly as written (fetch normalises `..`). */
function rawGet(url: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = httpRequest({ host: u.hostname, port: u.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('api-gateway: the cabinet page', () => {
  let nats: TestNats;
  let dir: string;
  let gateway: RunningApiGateway;
  let bare: RunningApiGateway;

  beforeAll(async () => {
    nats = await startTestNats();
    dir = await mkdtemp(join(tmpdir(), 'thk-cabinet-'));
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>Кабінет</title>');
    await writeFile(join(dir, 'assets', 'app-1a2b.js'), 'console.log(1)');
    await writeFile(join(dir, '..', 'secret.txt'), 'outside').catch(() => undefined);
    const idp = await createIdentityProvider();
    gateway = await startApiGateway(testConfig(nats.url, { auth: { publicKeyPem: idp.publicKeyPem }, cabinetDir: dir }), { logLevel: 'silent' });
    bare = await startApiGateway(testConfig(nats.url, { auth: { publicKeyPem: idp.publicKeyPem }, cabinetDir: join(dir, 'missing') }), { logLevel: 'silent' });
  });
  afterAll(async () => {
    await gateway.close();
    await bare.close();
    await nats.stop();
    await rm(dir, { recursive: true, force: true });
    await rm(join(dir, '..', 'secret.txt'), { force: true });
  });

  describe('GET /', () => {
    it('serves index.html from CABINET_DIR', async () => {
      const res = await httpCall(gateway.url, { url: '/' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.body).toContain('Кабінет');
    });

    it('serves a built asset with a long cache', async () => {
      const res = await httpCall(gateway.url, { url: '/assets/app-1a2b.js' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/javascript; charset=utf-8');
      expect(res.headers['cache-control']).toContain('immutable');
    });

    it('answers a client-side route with index.html', async () => {
      const res = await httpCall(gateway.url, { url: '/keys/some-key' });
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain('Кабінет');
    });

    it('answers a missing file 404', async () => {
      expectProblem(await httpCall(gateway.url, { url: '/assets/missing.js' }), 404, 'not-found');
    });

    it.each(['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt'])('never serves a file outside the directory (%s)', async (path) => {
      const res = await rawGet(gateway.url, path);
      expect(res.body).not.toContain('outside');
      expect(res.status).toBe(404);
    });

    it('never answers an API path with the page', async () => {
      expectProblem(await httpCall(gateway.url, { url: '/v1/unknown' }), 404, 'not-found');
      expectProblem(await httpCall(gateway.url, { url: '/v1' }), 404, 'not-found');
      expectProblem(await httpCall(gateway.url, { url: '/health/unknown' }), 404, 'not-found');
    });

    it('answers 404 when the directory does not exist', async () => {
      expectProblem(await httpCall(bare.url, { url: '/' }), 404, 'not-found');
      expectProblem(await httpCall(bare.url, { url: '/keys' }), 404, 'not-found');
    });
  });
});
