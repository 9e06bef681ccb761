import { existsSync } from 'node:fs';
import path from 'node:path';
import { searchPath, temporalCliCacheDir, temporalCliPath } from '../env';
import { devServerSearchAttributeArgs } from '../search-attributes';
import { spawnManaged, waitForPort } from './processes';

/** Where scripts/install-temporal-cli.sh caches its build (TEMPORAL_CLI_CACHE_DIR moves it, for both). */
export const TEMPORAL_CLI_CACHE = path.join(temporalCliCacheDir(), 'temporal');

/** `TEMPORAL_CLI_PATH`, then `temporal` on PATH, then the cached build. */
export function findTemporalCli(): string | undefined {
  const explicit = temporalCliPath();
  if (explicit && existsSync(explicit)) return explicit;
  for (const dir of searchPath()) {
    const candidate = path.join(dir, 'temporal');
    if (existsSync(candidate)) return candidate;
  }
  return existsSync(TEMPORAL_CLI_CACHE) ? TEMPORAL_CLI_CACHE : undefined;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  stop: () => Promise<void>;
}

export interface DevServerOptions {
  port: number;
  uiPort?: number;
  /** Keeps workflows across restarts; in memory when unset. */
  dbFilename?: string;
  namespace?: string;
}

/**
 * Our search attributes, and one partition per task queue. A dev server serves one machine's
 * workers; with the server's default of four partitions, a task that waited for a worker (the
 * indexer's first workflow task, when the worker starts after `indexer start`) was at times handed
 * out only after the poll was forwarded between partitions, 0.4 s after the worker asked.
 */
function devServerExtraArgs(): string[] {
  const partitions = ['matching.numTaskqueueReadPartitions', 'matching.numTaskqueueWritePartitions'].flatMap((key) => ['--dynamic-config-value', `${key}=1`]);
  return [...devServerSearchAttributeArgs(), ...partitions];
}

/**
 * Starts `temporal server start-dev` on loopback. Without a local CLI it falls back to the SDK's
 * own download of the dev server (needs internet).
 */
export async function startTemporalDevServer(options: DevServerOptions): Promise<DevServer> {
  const cli = findTemporalCli();
  const args = ['--ip', '127.0.0.1', '--port', String(options.port), '--log-level', 'error', '--namespace', options.namespace ?? 'default'];
  if (options.dbFilename) args.push('--db-filename', options.dbFilename);
  args.push(...devServerExtraArgs());
  if (cli) {
    const uiArgs = options.uiPort ? ['--ui-port', String(options.uiPort)] : ['--headless'];
    for (let attempt = 1; ; attempt++) {
      const proc = spawnManaged(cli, ['server', 'start-dev', ...args, ...uiArgs], { name: 'temporal server start-dev' });
      try {
        await waitForPort(options.port, '127.0.0.1', 60_000, proc.exitReason);
        if (options.uiPort) await waitForPort(options.uiPort, '127.0.0.1', 30_000, proc.exitReason);
      } catch (error) {
        await proc.stop('SIGKILL');
        // The dev server picks its internal ports (HTTP, metrics, membership) by binding and
        // closing them, then binds them again: another process can take one in between, and the
        // server panics while starting (seen once in CI). A second start picks other ports.
        if (attempt === 1 && proc.exitReason()) continue;
        throw error;
      }
      return {
        address: `127.0.0.1:${options.port}`,
        uiUrl: options.uiPort ? `http://127.0.0.1:${options.uiPort}` : undefined,
        stop: () => proc.stop('SIGTERM', 10_000),
      };
    }
  }
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const env = await TestWorkflowEnvironment.createLocal({
    server: { ip: '127.0.0.1', port: options.port, uiPort: options.uiPort, dbFilename: options.dbFilename, namespace: options.namespace, extraArgs: devServerExtraArgs() },
  });
  return {
    address: env.address,
    uiUrl: options.uiPort ? `http://127.0.0.1:${options.uiPort}` : undefined,
    stop: () => env.teardown(),
  };
}
