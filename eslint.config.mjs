import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

const notPkcs11 = ['type:app', 'scope:shared', 'scope:server', 'scope:browser'];

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  { ignores: ['**/dist', '**/node_modules', '**/.nx', '**/.stack', 'apps/cabinet/vite.config.*'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    rules: {
      '@nx/enforce-module-boundaries': ['error', {
        enforceBuildableLibDependency: false,
        allow: [],
        depConstraints: [
          // Services meet only through libs (contracts and the bus): an app never imports an app.
          { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'] },
          { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] },
          // The token agent runs on a workstation: no database code can reach it.
          { sourceTag: 'scope:token', notDependOnLibsWithTags: ['needs:db'], bannedExternalImports: ['typeorm', '@nestjs/typeorm', 'pg', 'pg-*'] },
          // pkcs11js is wrapped by libs/pkcs11 and imported nowhere else.
          ...notPkcs11.map((tag) => ({ sourceTag: tag, bannedExternalImports: ['pkcs11js'] })),
          { sourceTag: 'scope:shared', notDependOnLibsWithTags: ['owns:pkcs11js', 'needs:db'] },
          { sourceTag: 'scope:browser', onlyDependOnLibsWithTags: ['scope:shared'] },
        ],
      }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
];
