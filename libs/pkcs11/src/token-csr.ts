import 'reflect-metadata';
import { Name, Pkcs10CertificateRequestGenerator, type Extension, type JsonNameParams, type Pkcs10CertificateRequest } from '@peculiar/x509';
import { bytesEqual, parseCsr, verifyCsrSignature } from '@thk/pki';
import { Pkcs11Error } from './pkcs11.error.js';
import type { Handle } from './pkcs11js.js';
import type { TokenKeyAlgorithm } from './token.js';
import type { TokenSession } from './token-session.js';

export interface TokenCsrRequest {
  session: TokenSession;
  keyPair: { algorithm: TokenKeyAlgorithm; privateKey: Handle; publicKey: Handle };
  /** The subject: a Name, or its JSON (`[{ '2.5.4.3': [{ utf8String: '…' }] }, …]`, string types as given). */
  name: Name | JsonNameParams;
  extensions?: Extension[];
}

type KeyAlgorithm = { name: string; namedCurve?: string; hash?: { name: string }; modulusLength?: number; publicExponent?: Uint8Array };

/**
 * A PKCS#10 request signed by the token key (proof of possession). `@peculiar/x509` builds it with
 * a crypto provider of which it only calls `subtle.exportKey('spki', publicKey)` and
 * `subtle.sign(algorithm, privateKey, tbs)`; ours answers the first from the public-key object and
 * the second through `C_Sign`, so the private key never leaves the token. The request is verified
 * (with the key read from the token) before it is returned.
 */
export async function createTokenCsr(request: TokenCsrRequest): Promise<Pkcs10CertificateRequest> {
  const { session, keyPair } = request;
  const { spki } = session.readPublicKey(keyPair.publicKey);
  const algorithm: KeyAlgorithm = keyPair.algorithm === 'EC-P256'
    ? { name: 'ECDSA', namedCurve: 'P-256' }
    : { name: 'RSASSA-PKCS1-v1_5', hash: { name: 'SHA-256' }, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) };
  const publicKey = { type: 'public', algorithm, extractable: true, usages: ['verify'] } as unknown as CryptoKey;
  const privateKey = { type: 'private', algorithm, extractable: false, usages: ['sign'] } as unknown as CryptoKey;
  const toArrayBuffer = (b: Buffer) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  const provider = {
    subtle: {
      async exportKey(format: string, key: CryptoKey): Promise<ArrayBuffer> {
        if (format !== 'spki' || key !== publicKey) throw new TypeError(`the token provider exports only the public key as spki, not ${format}`);
        return toArrayBuffer(spki);
      },
      async sign(_algorithm: unknown, key: CryptoKey, data: ArrayBuffer | ArrayBufferView): Promise<ArrayBuffer> {
        if (key !== privateKey) throw new TypeError('the token provider signs only with its own key');
        const bytes = ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data);
        return toArrayBuffer(await session.sign(keyPair.privateKey, keyPair.algorithm, bytes));
      },
    },
  } as unknown as Crypto;
  const signingAlgorithm = keyPair.algorithm === 'EC-P256' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const csr = await Pkcs10CertificateRequestGenerator.create({
    name: request.name instanceof Name ? request.name : new Name(request.name),
    keys: { publicKey, privateKey },
    signingAlgorithm,
    ...(request.extensions ? { extensions: request.extensions } : {}),
  }, provider);
  // The CA's own proof-of-possession check (libs/pki, node:crypto on this thread: no WebCrypto jobs and
  // their thread-pool hops on the agent's critical path), on the request as encoded, and its key must be
  // the one read from the token.
  const parsed = parseCsr(new Uint8Array(csr.rawData));
  if (!bytesEqual(parsed.spki, spki) || !verifyCsrSignature(parsed)) {
    throw new Pkcs11Error('CKR_SIGNATURE_INVALID', 'C_Sign', { message: 'the token produced a CSR whose signature does not verify' });
  }
  return csr;
}
