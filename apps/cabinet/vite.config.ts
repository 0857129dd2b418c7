import { defineConfig } from 'vite';

// The cabinet page: a static build in dist/ that the API gateway serves at `/` (CABINET_DIR).
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    reportCompressedSize: false,
  },
  server: {
    // `npx vite` during development: the API calls go to a running local stack.
    proxy: { '/v1': process.env.CABINET_API ?? 'http://127.0.0.1:8080' },
  },
});
