import { ESLint } from 'eslint';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

async function boundaryErrors(file: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: root });
  const [result] = await eslint.lintText(code, { filePath: resolve(root, file) });
  return (result?.messages ?? []).filter((m) => m.ruleId === '@nx/enforce-module-boundaries').map((m) => m.message);
}

describe('module boundaries (Nx tags)', () => {
  it('refuses pkcs11js anywhere but libs/pkcs11', async () => {
    expect(await boundaryErrors('apps/token-agent/src/probe.ts', "import * as p from 'pkcs11js';\nexport const x = p;\n")).toEqual([expect.stringContaining('pkcs11js')]);
    expect(await boundaryErrors('libs/pki/src/probe.ts', "import * as p from 'pkcs11js';\nexport const x = p;\n")).toEqual([expect.stringContaining('pkcs11js')]);
    expect(await boundaryErrors('libs/pkcs11/src/probe.ts', "import * as p from 'pkcs11js';\nexport const x = p;\n")).toEqual([]);
  });

  it('keeps TypeORM, pg and the persistence lib out of the token agent', async () => {
    const errors = await boundaryErrors('apps/token-agent/src/probe.ts', "import { DataSource } from 'typeorm';\nimport pg from 'pg';\nimport { openDatabase } from '@thk/persistence';\nexport const x = [DataSource, pg, openDatabase];\n");
    expect(errors).toHaveLength(3);
  });

  it('forbids a service from importing another service', async () => {
    const errors = await boundaryErrors('apps/issuance/src/probe.ts', "import { x } from '@thk/accounts';\nexport const y = x;\n");
    expect(errors).toEqual([expect.stringMatching(/app/i)]);
  });

  it('lets a service use the shared libraries', async () => {
    expect(await boundaryErrors('apps/issuance/src/probe.ts', "import { AppError } from '@thk/core';\nimport { streams } from '@thk/contracts';\nexport const x = [AppError, streams];\n")).toEqual([]);
  });
});
