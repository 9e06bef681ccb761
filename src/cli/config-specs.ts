import { loadConfig } from '../config/load';
import { buildSpecs } from '../config/resolve';
import type { ResolvedConfig } from '../config/schema';
import { ChainIdMismatchError, RpcRequestError, oneLine } from '../errors';
import { ChainRpc } from '../rpc/client';
import { configRpcUrls, envRpcUrls } from '../rpc/endpoints';
import type { IndexerSpec } from '../spec';
import { bindHandlers, handledTables, importHandlers } from '../stages/handlers/module';
import { LogRouter } from '../indexing/log-router';
import { Redactor, redactUrl } from '../redact';

export interface LoadedSpecs {
  configPath: string;
  config: ResolvedConfig;
  specs: IndexerSpec[];
}

/**
 * Loads and validates the config offline, down to every table name and every handler key.
 * Warnings go to stderr.
 */
export async function loadSpecs(configPath: string | undefined): Promise<LoadedSpecs> {
  const { path, config } = await loadConfig(configPath);
  const specs = buildSpecs(config, (message) => process.stderr.write(`warning: ${message}\n`));
  if (config.handlers) await checkHandlers(config.handlers, specs);
  return { configPath: path, config, specs };
}

/** The handlers module loads and each of its keys names an event some chain indexes. */
async function checkHandlers(file: string, specs: IndexerSpec[]): Promise<void> {
  const module = await importHandlers(file);
  const tables = specs.flatMap((spec) => handledTables(spec, new LogRouter(spec).tables));
  bindHandlers(module, tables);
}

/** The RPC URLs for a chain as a worker resolves them: `RPC_URL_<id>` first, then the config. */
export function chainRpcUrls(config: ResolvedConfig, chainId: number): string[] | undefined {
  const chain = Object.values(config.chains).find((c) => c.id === chainId);
  return envRpcUrls(chainId) ?? configRpcUrls(chain?.rpc);
}

export type ChainCheck = { ok: true } | { ok: false; fatal: boolean; message: string };

/**
 * eth_chainId against the config. A mismatch is fatal; an unreachable endpoint is not (the
 * workflow retries and shows lastError), so it comes back as a warning.
 */
export async function checkChainId(chainId: number, urls: string[]): Promise<ChainCheck> {
  const rpc = new ChainRpc(chainId, urls, { timeoutMs: 5_000 });
  try {
    await rpc.assertChainId();
    return { ok: true };
  } catch (error) {
    if (error instanceof ChainIdMismatchError) return { ok: false, fatal: true, message: error.shortMessage };
    if (error instanceof RpcRequestError) return { ok: false, fatal: false, message: `RPC for chain ${chainId} (${rpc.label}) is unreachable now: ${oneLine(error)}` };
    return { ok: false, fatal: false, message: rpc.redact(oneLine(error)) };
  }
}

/**
 * Whether the database the workers write to answers now. Unreachable is a warning, not a refusal
 * (the workers retry, as with an RPC that is down), and the message never carries the password.
 */
export async function checkDatabase(databaseUrl: string): Promise<{ ok: true } | { ok: false; message: string }> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { ok: true };
  } catch (error) {
    const redactor = new Redactor();
    redactor.addUrl(databaseUrl);
    return { ok: false, message: `PostgreSQL at ${redactUrl(databaseUrl)} (DATABASE_URL) is unreachable now: ${redactor.redact(oneLine(error))}` };
  } finally {
    await client.end().catch(() => undefined);
  }
}
