import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, join, relative, resolve, sep } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

/** Paths that belong to the API: never answered with the page. */
const isApiPath = (p: string): boolean => p === '/v1' || p.startsWith('/v1/') || p === '/health' || p.startsWith('/health/') || p === '/metrics' || p.startsWith('/metrics/') || p === '/pki' || p.startsWith('/pki/');

export const CABINET_ROUTE = '/*';

async function fileAt(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Serves the cabinet page's built files (`CABINET_DIR`, by default apps/cabinet/dist) at `/`:
 * a file if it exists, otherwise `index.html` for a client-side route (a path without an
 * extension). Everything else, and every unknown API path, gets `notFound` — the same answer
 * an unknown route gets.
 */
export function registerCabinetStatic(
  fastify: FastifyInstance,
  dir: string | null,
  notFound: (request: FastifyRequest, reply: FastifyReply) => void,
): void {
  const root = dir ? resolve(dir) : null;
  fastify.get(CABINET_ROUTE, async (request, reply) => {
    const pathname = request.url.split('?')[0] ?? '/';
    if (!root || isApiPath(pathname)) {
      return notFound(request, reply);
    }
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return notFound(request, reply);
    }
    const candidate = resolve(join(root, decoded));
    const rel = relative(root, candidate);
    if (rel.startsWith('..') || rel.includes(`..${sep}`) || decoded.includes('\0')) return notFound(request, reply);
    let file = candidate;
    if (!(await fileAt(file))) {
      const index = join(root, 'index.html');
      if (extname(decoded) !== '' || !(await fileAt(index))) return notFound(request, reply);
      file = index;
    }
    const type = contentTypes[extname(file).toLowerCase()] ?? 'application/octet-stream';
    const hashedAsset = rel.startsWith(`assets${sep}`) && file !== join(root, 'index.html');
    reply
      .header('content-type', type)
      .header('cache-control', hashedAsset ? 'public, max-age=31536000, immutable' : 'no-cache')
      .header('x-content-type-options', 'nosniff');
    return reply.send(createReadStream(file));
  });
}
