import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ck } from '../pkcs11js.js';

/**
 * Test support for SoftHSM2 (file object store): sets token flags in a token's `token.object`.
 * SoftHSM never locks a PIN by itself (it counts wrong PINs but keeps accepting the right one), so
 * tests of "the agent refuses a locked PIN without trying it" set `CKF_USER_PIN_LOCKED` here. The
 * record is `CKA_OS_TOKENFLAGS` (0x8000534b), kind 2 (unsigned long), value 8 bytes big-endian.
 * The module reads the file again on its next `C_GetTokenInfo`.
 */
const TOKEN_FLAGS_RECORD = Buffer.from('000000008000534b0000000000000002', 'hex');
const SERIAL_RECORD = Buffer.from('000000008000534a0000000000000003', 'hex');

export type SettableTokenFlag = 'CKF_USER_PIN_LOCKED' | 'CKF_USER_PIN_FINAL_TRY' | 'CKF_USER_PIN_COUNT_LOW' | 'CKF_SO_PIN_LOCKED' | 'CKF_SO_PIN_FINAL_TRY';

export async function setSoftHsmTokenFlags(tokenDir: string, serial: string, flags: { set?: SettableTokenFlag[]; clear?: SettableTokenFlag[] }): Promise<void> {
  for (const entry of await readdir(tokenDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const file = join(tokenDir, entry.name, 'token.object');
    const bytes = await readFile(file).catch(() => undefined);
    if (!bytes) continue;
    const s = bytes.indexOf(SERIAL_RECORD);
    if (s < 0) continue;
    const length = Number(bytes.readBigUInt64BE(s + SERIAL_RECORD.length));
    const found = bytes.subarray(s + SERIAL_RECORD.length + 8, s + SERIAL_RECORD.length + 8 + length).toString('latin1').trim();
    if (found !== serial) continue;
    const f = bytes.indexOf(TOKEN_FLAGS_RECORD);
    if (f < 0) throw new Error(`no token flags record in ${file}`);
    let value = bytes.readBigUInt64BE(f + TOKEN_FLAGS_RECORD.length);
    for (const name of flags.set ?? []) value |= BigInt(ck(name));
    for (const name of flags.clear ?? []) value &= ~BigInt(ck(name));
    bytes.writeBigUInt64BE(value, f + TOKEN_FLAGS_RECORD.length);
    await writeFile(file, bytes);
    return;
  }
  throw new Error(`no SoftHSM token with serial ${serial} under ${tokenDir}`);
}
