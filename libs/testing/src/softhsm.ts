import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const SOFTHSM_MODULE = process.env['SOFTHSM2_MODULE'] ?? ['/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so', '/usr/local/lib/softhsm/libsofthsm2.so'].find((p) => existsSync(p)) ?? '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsmEnvironment {
  /** Path of this environment's own softhsm2.conf; pass it as `SOFTHSM2_CONF` to whatever loads the module. */
  conf: string;
  tokenDir: string;
  modulePath: string;
  /** Environment variables for a child process that must see these tokens. */
  env: Record<string, string>;
  /** Makes a token. Without `userPin` its user PIN stays uninitialised (as a fresh hardware token). */
  createToken(options: { label: string; soPin: string; userPin?: string }): Promise<{ label: string }>;
  cleanup(): Promise<void>;
}

/**
 * An isolated SoftHSM2 world for one test: its own conf and token directory. SoftHSM reads
 * `SOFTHSM2_CONF` when the module is initialised, so set `process.env.SOFTHSM2_CONF = env.conf`
 * before loading the module in-process.
 */
export async function createSoftHsm(options: { baseDir?: string } = {}): Promise<SoftHsmEnvironment> {
  if (!existsSync(SOFTHSM_MODULE)) throw new Error(`SoftHSM2 module not found at ${SOFTHSM_MODULE}: apt-get install softhsm2 opensc`);
  const dir = await mkdtemp(join(options.baseDir ?? tmpdir(), 'thk-softhsm-'));
  const tokenDir = join(dir, 'tokens');
  await mkdir(tokenDir, { recursive: true });
  const conf = join(dir, 'softhsm2.conf');
  await writeFile(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const env = { SOFTHSM2_CONF: conf };
  return {
    conf, tokenDir, modulePath: SOFTHSM_MODULE, env,
    async createToken({ label, soPin, userPin }) {
      const childEnv = { ...process.env, ...env };
      if (userPin) {
        await run('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', soPin, '--pin', userPin], { env: childEnv });
      } else {
        // pkcs11-tool would pick the first token-present slot: name SoftHSM's free slot explicitly.
        const { stdout } = await run('pkcs11-tool', ['--module', SOFTHSM_MODULE, '-L'], { env: childEnv });
        const free = /Slot \d+ \((0x[0-9a-f]+)\)[^\n]*\n\s*token state:\s*uninitialized/i.exec(stdout);
        if (!free) throw new Error(`no free SoftHSM slot in:\n${stdout}`);
        await run('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--slot', free[1]!, '--init-token', '--label', label, '--so-pin', soPin], { env: childEnv });
      }
      return { label };
    },
    async cleanup() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}
