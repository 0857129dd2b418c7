import { Pkcs11Module, type TokenDescription } from '@thk/pkcs11';
import { inventoryToken } from '../tokens/token-registry.js';
import { tokenLine } from './token-lines.js';

export interface ModuleTokens {
  module: string;
  tokens: TokenDescription[];
  error?: string;
}

/** Lists the tokens every configured module sees now (loads the modules itself; no agent needed). */
export function listTokens(modules: readonly string[]): ModuleTokens[] {
  return modules.map((path) => {
    let module: Pkcs11Module | undefined;
    try {
      module = Pkcs11Module.open(path);
      return { module: path, tokens: module.tokens() };
    } catch (error) {
      return { module: path, tokens: [], error: (error as Error).message };
    } finally {
      module?.close();
    }
  });
}

export function formatTokens(found: readonly ModuleTokens[]): string {
  const lines: string[] = [];
  const total = found.reduce((n, m) => n + m.tokens.length, 0);
  lines.push(total === 0 ? 'No tokens found.' : `Tokens found: ${total}`);
  for (const m of found) {
    if (m.error) lines.push(`  module ${m.module}: cannot be used: ${m.error}`);
    for (const t of m.tokens) lines.push(tokenLine(inventoryToken(t), `  module: ${m.module}`));
  }
  return lines.join('\n');
}
