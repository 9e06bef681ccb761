import { rpcUrls } from '../env';
import { RpcNotConfiguredError } from '../errors';

/**
 * Where a worker finds a chain's RPC endpoints: `RPC_URL_<chainId>` (comma-separated list) wins,
 * then the worker's own config. Never from workflow input: the URLs may carry API keys.
 */
export type RpcUrlSource = (chainId: number) => string[] | undefined;

export function envRpcUrls(chainId: number, env?: NodeJS.ProcessEnv): string[] | undefined {
  return rpcUrls(chainId, env);
}

export function configRpcUrls(rpc: string | string[] | undefined): string[] | undefined {
  if (!rpc) return undefined;
  return Array.isArray(rpc) ? rpc : [rpc];
}

/** Env first, then each fallback source in order. */
export function rpcUrlResolver(...sources: RpcUrlSource[]): RpcUrlSource {
  return (chainId) => envRpcUrls(chainId) ?? sources.map((s) => s(chainId)).find((urls) => urls && urls.length > 0);
}

export function requireRpcUrls(source: RpcUrlSource, chainId: number): string[] {
  const urls = source(chainId);
  if (!urls || urls.length === 0) {
    throw new RpcNotConfiguredError(`no RPC endpoint for chain ${chainId} on this worker: set RPC_URL_${chainId} or give the worker a --config with chains.<key>.rpc`);
  }
  return urls;
}
