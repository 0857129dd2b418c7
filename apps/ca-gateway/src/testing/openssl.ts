import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { derToPem } from '@thk/pki';

/** `openssl verify -crl_check` of a certificate against a CA certificate and a CRL: openssl's answer and exit status. */
export async function opensslVerify(caPem: string, crlDer: Uint8Array, certificateDer: Uint8Array, extra: string[] = []): Promise<{ ok: boolean; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'thk-openssl-'));
  try {
    await writeFile(join(dir, 'ca.pem'), caPem);
    await writeFile(join(dir, 'crl.pem'), derToPem(crlDer, 'X509 CRL'));
    await writeFile(join(dir, 'cert.pem'), derToPem(certificateDer));
    return await new Promise((resolve) => {
      execFile('openssl', ['verify', '-crl_check', '-CAfile', join(dir, 'ca.pem'), '-CRLfile', join(dir, 'crl.pem'), ...extra, join(dir, 'cert.pem')], (error, stdout, stderr) => {
        resolve({ ok: !error, output: `${stdout}${stderr}`.trim() });
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `openssl x509 -text` of a certificate (for assertions on what openssl reads). */
export async function opensslText(der: Uint8Array, kind: 'x509' | 'crl' = 'x509'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'thk-openssl-'));
  try {
    await writeFile(join(dir, 'in.der'), der);
    return await new Promise((resolve, reject) => {
      execFile('openssl', [kind, '-inform', 'DER', '-in', join(dir, 'in.der'), '-noout', '-text', '-nameopt', 'utf8'], (error, stdout, stderr) => {
        if (error) reject(new Error(stderr)); else resolve(stdout);
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
