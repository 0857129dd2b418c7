/**
 * A small, strict DER reader and writer. The reader refuses BER leniencies (indefinite lengths,
 * non-minimal lengths, trailing bytes) so that what we verify is exactly what was signed; the
 * writer assembles pre-encoded pieces, which keeps the CA's hot path off the generic ASN.1 builders.
 */
import { PkiError } from './pki-error.js';

/** Bytes backed by a plain ArrayBuffer (what WebCrypto and @peculiar/x509 accept under TS 5.9). */
export type Bytes = Uint8Array<ArrayBuffer>;

export interface Tlv {
  /** The identifier octet (class, constructed bit, tag number < 31). */
  tag: number;
  /** Offset of the first content byte in `source`. */
  start: number;
  /** Offset just past the last content byte. */
  end: number;
  /** The whole element (identifier, length, content). */
  raw: Uint8Array;
  /** The content bytes. */
  value: Uint8Array;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Reads one element at `offset`; throws `PkiError('der.malformed')` on anything that is not strict DER. */
export function readTlv(source: Uint8Array, offset = 0): Tlv {
  if (offset >= source.length) throw new PkiError('der.malformed', 'unexpected end of input');
  const tag = source[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new PkiError('der.malformed', 'high tag numbers are not supported');
  let p = offset + 1;
  if (p >= source.length) throw new PkiError('der.malformed', 'truncated length');
  const first = source[p++]!;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    const n = first & 0x7f;
    if (n === 0) throw new PkiError('der.malformed', 'indefinite length is not DER');
    if (n > 4) throw new PkiError('der.malformed', 'length too large');
    if (p + n > source.length) throw new PkiError('der.malformed', 'truncated length');
    if (source[p] === 0) throw new PkiError('der.malformed', 'non-minimal length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + source[p++]!;
    if (length < 0x80) throw new PkiError('der.malformed', 'non-minimal length');
  }
  const end = p + length;
  if (end > source.length) throw new PkiError('der.malformed', 'truncated content');
  return { tag, start: p, end, raw: source.subarray(offset, end), value: source.subarray(p, end) };
}

/** Reads exactly one element spanning the whole input (no trailing bytes). */
export function readOne(source: Uint8Array, expectedTag?: number): Tlv {
  const tlv = readTlv(source, 0);
  if (tlv.end !== source.length) throw new PkiError('der.malformed', 'trailing bytes after the element');
  if (expectedTag !== undefined && tlv.tag !== expectedTag) throw new PkiError('der.malformed', `expected tag 0x${expectedTag.toString(16)}, found 0x${tlv.tag.toString(16)}`);
  return tlv;
}

/** The elements inside a constructed element. */
export function readChildren(parent: Tlv): Tlv[] {
  if ((parent.tag & 0x20) === 0) throw new PkiError('der.malformed', 'primitive element has no children');
  const out: Tlv[] = [];
  let p = 0;
  const content = parent.value;
  while (p < content.length) {
    const child = readTlv(content, p);
    out.push(child);
    p = child.end;
  }
  return out;
}

export function expectTag(tlv: Tlv | undefined, tag: number, what: string): Tlv {
  if (!tlv) throw new PkiError('der.malformed', `${what} is missing`);
  if (tlv.tag !== tag) throw new PkiError('der.malformed', `${what}: expected tag 0x${tag.toString(16)}, found 0x${tlv.tag.toString(16)}`);
  return tlv;
}

// ---------------------------------------------------------------- writer

export function encodeLength(length: number): Bytes {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Uint8Array.from([0x80 | bytes.length, ...bytes]);
}

/** One element from its tag and content pieces. */
export function tlv(tag: number, ...content: Uint8Array[]): Bytes {
  let length = 0;
  for (const c of content) length += c.length;
  const header = encodeLength(length);
  const out = new Uint8Array(1 + header.length + length);
  out[0] = tag;
  out.set(header, 1);
  let p = 1 + header.length;
  for (const c of content) { out.set(c, p); p += c.length; }
  return out;
}

export const seq = (...content: Uint8Array[]): Bytes => tlv(TAG.SEQUENCE, ...content);
export const octetString = (bytes: Uint8Array): Bytes => tlv(TAG.OCTET_STRING, bytes);
/** A BIT STRING with no unused bits. */
export const bitString = (bytes: Uint8Array): Bytes => tlv(TAG.BIT_STRING, Uint8Array.of(0), bytes);
/** `[n] EXPLICIT` (context-specific, constructed). */
export const explicit = (n: number, ...content: Uint8Array[]): Bytes => tlv(0xa0 | n, ...content);

/** A non-negative INTEGER from its big-endian magnitude (leading zeros stripped, sign byte added). */
export function unsignedInteger(magnitude: Uint8Array): Bytes {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const m = magnitude.subarray(i);
  return (m[0] ?? 0) & 0x80 ? tlv(TAG.INTEGER, Uint8Array.of(0), m) : tlv(TAG.INTEGER, m.length ? m : Uint8Array.of(0));
}

export function smallInteger(n: number): Bytes {
  if (!Number.isInteger(n) || n < 0) throw new RangeError('non-negative integer expected');
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return unsignedInteger(Uint8Array.from(bytes.length ? bytes : [0]));
}

const encodedOids = new Map<string, Bytes>();

/** An OBJECT IDENTIFIER element (memoised: profiles encode the same few OIDs for every certificate). */
export function oid(dotted: string): Bytes {
  let encoded = encodedOids.get(dotted);
  if (!encoded) {
    encoded = encodeOid(dotted);
    if (encodedOids.size < 1_000) encodedOids.set(dotted, encoded);
  }
  return encoded;
}

function encodeOid(dotted: string): Bytes {
  const parts = dotted.split('.').map((p) => {
    if (!/^\d+$/.test(p)) throw new RangeError(`bad OID ${dotted}`);
    return BigInt(p);
  });
  if (parts.length < 2) throw new RangeError(`bad OID ${dotted}`);
  const arcs = [parts[0]! * 40n + parts[1]!, ...parts.slice(2)];
  const bytes: number[] = [];
  for (const arc of arcs) {
    const chunk: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) chunk.unshift(Number(v & 0x7fn) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(TAG.OID, Uint8Array.from(bytes));
}

/** Decodes an OID's content bytes to dotted form. */
export function decodeOid(value: Uint8Array): string {
  if (value.length === 0) throw new PkiError('der.malformed', 'empty OID');
  const arcs: bigint[] = [];
  let v = 0n;
  for (let i = 0; i < value.length; i++) {
    const b = value[i]!;
    if (v === 0n && b === 0x80) throw new PkiError('der.malformed', 'non-minimal OID arc');
    v = (v << 7n) | BigInt(b & 0x7f);
    if ((b & 0x80) === 0) { arcs.push(v); v = 0n; }
    else if (i === value.length - 1) throw new PkiError('der.malformed', 'truncated OID');
  }
  const first = arcs[0]!;
  const head = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].join('.');
}

/** UTCTime for 1950–2049, GeneralizedTime otherwise (RFC 5280 §4.1.2.5); whole seconds. */
export function x509Time(date: Date): Bytes {
  const y = date.getUTCFullYear();
  const two = (n: number) => String(n).padStart(2, '0');
  const rest = `${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`;
  if (y >= 1950 && y < 2050) return tlv(TAG.UTC_TIME, ascii(`${two(y % 100)}${rest}`));
  return tlv(TAG.GENERALIZED_TIME, ascii(`${String(y).padStart(4, '0')}${rest}`));
}

/** Parses a UTCTime / GeneralizedTime element in the RFC 5280 profile (`Z`, whole seconds). */
export function readX509Time(t: Tlv): Date {
  const s = new TextDecoder().decode(t.value);
  let m: RegExpMatchArray | null;
  let year: number;
  if (t.tag === TAG.UTC_TIME && (m = s.match(/^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/))) {
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (t.tag === TAG.GENERALIZED_TIME && (m = s.match(/^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/))) {
    year = Number(m[1]);
  } else {
    throw new PkiError('der.malformed', 'time is not in the RFC 5280 profile');
  }
  const [mo, d, h, mi, se] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number];
  const date = new Date(Date.UTC(year, mo - 1, d, h, mi, se));
  if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) throw new PkiError('der.malformed', 'invalid date');
  return date;
}

export function ascii(s: string): Bytes {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0x7f;
  return out;
}

export function concat(...parts: Uint8Array[]): Bytes {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A Buffer view of the same bytes (no copy). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
