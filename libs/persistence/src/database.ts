/* eslint-disable @typescript-eslint/no-unsafe-function-type -- TypeORM types entities and migrations as Function */
import pg from 'pg';
import { DataSource, type DataSourceOptions, type MixedList, type EntitySchema, type Logger as TypeOrmLogger } from 'typeorm';
import { createLogger, describeErrorSafely, type Logger } from '@thk/core';

export interface DatabaseConfig {
  /** `postgres://user:pass@host:port/database`; each service has its own database. */
  url: string;
  applicationName: string;
  entities: MixedList<Function | string | EntitySchema>;
  migrations: MixedList<Function | string>;
  poolSize?: number;
  /** TLS in production: `{ ca, cert?, key? }` PEM strings, or `true` for system CAs. */
  ssl?: boolean | { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean };
  /** Where TypeORM's errors and migrations are logged (default: a `typeorm` logger). */
  logger?: Logger;
}

/**
 * TypeORM's logging through pino without query parameters: a failed query logs its SQL text, the
 * driver's code and the constraint/table/column it names, never the values bound to it nor the
 * driver's message (which quotes values: `invalid input syntax for type uuid: "…"`).
 */
export class SafeTypeOrmLogger implements TypeOrmLogger {
  constructor(private readonly pino: Logger) {}
  logQuery(): void { /* queries are not logged */ }
  logQueryError(error: string | Error, query: string): void {
    const details = error instanceof Error ? error as Error & { constraint?: string; table?: string; column?: string } : undefined;
    this.pino.error({
      query: query.slice(0, 1_000),
      error: details ? { ...describeErrorSafely(details), ...pick(details as unknown as Record<string, unknown>, ['constraint', 'table', 'column']) } : { type: 'string' },
    }, 'query failed');
  }
  logQuerySlow(time: number, query: string): void { this.pino.warn({ query: query.slice(0, 1_000), ms: time }, 'slow query'); }
  logSchemaBuild(): void { /* never synchronised */ }
  logMigration(message: string): void { this.pino.info(message); }
  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') this.pino.warn(String(message)); else this.pino.debug(String(message));
  }
}

function pick(source: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => typeof source[k] === 'string').map((k) => [k, source[k]]));
}

/** The URL of a service's database on a shared server: `DATABASE_URL` with the path replaced. */
export function serviceDatabaseUrl(serverUrl: string, database: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Advisory lock keys (per database): creating databases (taken on `postgres`), running migrations. */
const CREATE_DATABASE_LOCK = 7_264_000_001;
const MIGRATIONS_LOCK = 7_264_000_002;

type SslConfig = DatabaseConfig['ssl'];

/**
 * Runs `work` while holding a session-level advisory lock on the database of `url` (released on any
 * exit, or when the connection dies). `work` gets the lock's connection for queries of its own.
 */
async function withAdvisoryLock<T>(url: string, key: number, applicationName: string, ssl: SslConfig, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName, ...(ssl ? { ssl } : {}) });
  client.on('error', () => undefined); // a dropped lock connection surfaces through the queries below
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [key]);
    try {
      return await work(client);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [key]).catch(() => undefined);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Creates the database named in `url` when it does not exist (development and tests; production
 * provisions its own). Safe with several replicas starting at once: creation is serialised by an
 * advisory lock, and a database created concurrently by someone else (42P04, or 23505 when two
 * CREATE DATABASE race) is accepted.
 */
export async function ensureDatabase(url: string, ssl?: SslConfig): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error(`refusing to create database with unusual name "${name}"`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  await withAdvisoryLock(admin.toString(), CREATE_DATABASE_LOCK, 'ensure-database', ssl, async (client) => {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) {
      await client.query(`CREATE DATABASE "${name}"`).catch((error: { code?: string }) => {
        if (error.code !== '42P04' && error.code !== '23505') throw error; // created concurrently
      });
    }
  });
}

/** A TypeORM data source whose schema comes only from migrations (never `synchronize`). */
export function createDataSource(config: DatabaseConfig): DataSource {
  const options: DataSourceOptions = {
    type: 'postgres',
    url: config.url,
    applicationName: config.applicationName,
    entities: config.entities,
    migrations: config.migrations,
    migrationsTableName: 'schema_migrations',
    synchronize: false,
    migrationsRun: false,
    logging: ['error', 'warn', 'migration'],
    logger: new SafeTypeOrmLogger(config.logger ?? createLogger('typeorm')),
    ...(config.ssl ? { ssl: config.ssl } : {}),
    extra: { max: config.poolSize ?? 10 },
  };
  return new DataSource(options);
}

/** Initialises the data source and applies pending migrations, each in its own transaction, under an advisory lock. */
export async function openDatabase(config: DatabaseConfig, options: { create?: boolean } = {}): Promise<DataSource> {
  if (options.create) await ensureDatabase(config.url, config.ssl);
  const ds = createDataSource(config);
  await ds.initialize();
  try {
    // Replicas starting together take turns: the first applies the migrations, the others find them applied.
    await withAdvisoryLock(config.url, MIGRATIONS_LOCK, `${config.applicationName}:migrations`, config.ssl, () => ds.runMigrations({ transaction: 'each' }));
  } catch (error) {
    await ds.destroy();
    throw error;
  }
  return ds;
}
