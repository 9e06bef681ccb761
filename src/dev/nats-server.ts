import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { searchPath } from '../env';
import { spawnManaged, waitForPort } from './processes';
import { DEV_STATE_DIR } from '../env';

export interface NatsServer {
  url: string;
  port: number;
  storeDir: string;
  /** SIGTERM by default (JetStream flushes its store); SIGKILL to simulate a crash. */
  stop: (signal?: NodeJS.Signals) => Promise<void>;
}

/** `nats-server` on PATH (or where Debian's package puts it), if installed. */
export function natsServerBinary(): string | undefined {
  const dirs = [...searchPath(), '/usr/sbin', '/usr/local/sbin'];
  return dirs.map((d) => path.join(d, 'nats-server')).find((p) => existsSync(p));
}

/** A local NATS server with JetStream (its store in `storeDir`), for `indexer dev` and the tests. */
export async function startNatsServer(options: { port: number; storeDir: string; user?: string; pass?: string }): Promise<NatsServer> {
  const binary = natsServerBinary();
  if (!binary) throw new Error('nats-server is not installed (apt-get install nats-server)');
  const args = ['-js', '-a', '127.0.0.1', '-p', String(options.port), '-sd', options.storeDir];
  if (options.user) args.push('--user', options.user, '--pass', options.pass ?? '');
  const proc = spawnManaged(binary, args, { name: 'nats-server' });
  await waitForPort(options.port, '127.0.0.1', 30_000, proc.exitReason);
  return { url: `nats://127.0.0.1:${options.port}`, port: options.port, storeDir: options.storeDir, stop: (signal = 'SIGTERM') => proc.stop(signal, 10_000) };
}

/**
 * Where `indexer dev`'s own nats-server listens, kept in its state dir while it runs, so that
 * `indexer tail` in the same directory finds the demo's stream without NATS_URL (the server has
 * no credentials, and its port is random when 4222 is taken).
 */
const DEV_NATS_URL_FILE = 'nats-url';

export function rememberDevNatsUrl(stateDir: string, url: string): () => void {
  const file = path.join(stateDir, DEV_NATS_URL_FILE);
  writeFileSync(file, `${url}\n`);
  return () => rmSync(file, { force: true });
}

/** The URL a running `indexer dev` left in `stateDir` (default: the dev state dir here), if any. */
export function devNatsUrl(stateDir = DEV_STATE_DIR): string | undefined {
  const file = path.join(stateDir, DEV_NATS_URL_FILE);
  return existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined;
}
