import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import { distIsFresh } from '../../bin/dist-fresh.mjs';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../src/dev/postgres';
import { startTemporalDevServer, type DevServer } from '../../src/dev/temporal-server';
import { WORKFLOWS_PATH } from '../../src/worker';
import { WORKFLOW_BUNDLE_FILE, quietBundlerLogger, workflowBundleOptions } from '../../src/worker/workflow-bundle';
import { freePort } from './ports';

export interface TestStack {
  temporal: DevServer;
  client: Client;
  databaseUrl: string;
  /** A pool for the test's own checks (not the worker's). */
  db: pg.Pool;
  bundle: WorkflowBundle;
  /** Which PostgreSQL: the running server through DATABASE_URL, or an embedded one. */
  postgresKind: 'DATABASE_URL' | 'embedded';
  stop: () => Promise<void>;
}

let bundlePromise: Promise<WorkflowBundle> | undefined;
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Workflows are bundled once per test file (as npm run build bundles them) and reused by every worker in it. */
export function workflowBundle(): Promise<WorkflowBundle> {
  // `npm test` builds first: its prebuilt bundle is the code under test (and saves webpack in every file).
  bundlePromise ??= distIsFresh(REPO)
    ? Promise.resolve({ code: readFileSync(path.join(REPO, 'dist', WORKFLOW_BUNDLE_FILE), 'utf8') })
    : bundleWorkflowCode({ ...workflowBundleOptions(WORKFLOWS_PATH), logger: quietBundlerLogger });
  return bundlePromise;
}

export interface StackOptions {
  /** Force an embedded PostgreSQL even when DATABASE_URL is set (the default path must stay tested). */
  embeddedPostgres?: boolean;
}

/** `DATABASE_URL`'s PostgreSQL, else an embedded one for this test file (stopped and removed by `stop`). */
export async function startPostgres(options: StackOptions = {}): Promise<{ databaseUrl: string; postgresKind: TestStack['postgresKind']; stop: () => Promise<void> }> {
  const url = process.env.DATABASE_URL;
  if (url && !options.embeddedPostgres) return { databaseUrl: url, postgresKind: 'DATABASE_URL', stop: async () => undefined };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'indexer-test-pg-'));
  chmodSync(dir, 0o755); // as root, PostgreSQL runs as the postgres user and must reach its data directory
  const embedded = await startEmbeddedPostgres({ dataDir: path.join(dir, 'data'), port: await freePort() });
  return {
    databaseUrl: embedded.url,
    postgresKind: 'embedded',
    stop: async () => {
      await embedded.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A real Temporal dev server (in memory, random ports) and a real PostgreSQL for one test file. */
export async function startStack(options: StackOptions = {}): Promise<TestStack> {
  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    const temporal = await startTemporalDevServer({ port: await freePort() });
    cleanups.push(() => temporal.stop());
    const postgres = await startPostgres(options);
    cleanups.push(postgres.stop);
    const { databaseUrl, postgresKind } = postgres;
    const db = new pg.Pool({ connectionString: databaseUrl, max: 4 });
    // pool.end() resolves before its sockets close; a server stopping right after must not crash the file.
    db.on('error', () => undefined);
    cleanups.push(() => db.end());
    const connection = await Connection.connect({ address: temporal.address });
    cleanups.push(() => connection.close());
    const client = new Client({ connection });
    const bundle = await workflowBundle();
    return {
      temporal,
      client,
      databaseUrl,
      db,
      bundle,
      postgresKind,
      stop: async () => {
        for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
      },
    };
  } catch (error) {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    throw error;
  }
}

/** A unique indexer name (also its schema) and task queue per test, derived from its title. */
export function uniqueName(title: string): string {
  const slug = title.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 24);
  return `t_${slug}_${Math.random().toString(36).slice(2, 8)}`;
}
