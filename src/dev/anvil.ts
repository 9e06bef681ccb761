import { createRequire } from 'node:module';
import path from 'node:path';
import { spawnManaged, waitForPort, type ManagedProcess } from './processes';

const require = createRequire(import.meta.url);

/** The anvil binary shipped by the `@foundry-rs/anvil-<platform>` npm package. */
export function anvilBinary(): string {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const pkg = `@foundry-rs/anvil-${process.platform}-${arch}`;
  try {
    return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil');
  } catch {
    throw new Error(`anvil is not installed for ${process.platform}-${process.arch}: run npm install (package ${pkg})`);
  }
}

export interface Anvil {
  url: string;
  port: number;
  chainId: number;
  process: ManagedProcess;
  stop: () => Promise<void>;
}

export interface AnvilOptions {
  port: number;
  chainId?: number;
  /** Seconds between blocks; automine (a block per transaction) when unset. */
  blockTime?: number;
  /** Load the chain from this file at start and write it back on exit, so a restart keeps the chain. */
  stateFile?: string;
  extraArgs?: string[];
}

export async function startAnvil(options: AnvilOptions): Promise<Anvil> {
  const chainId = options.chainId ?? 31337;
  const args = ['--host', '127.0.0.1', '--port', String(options.port), '--chain-id', String(chainId), '--silent'];
  if (options.blockTime) args.push('--block-time', String(options.blockTime));
  if (options.stateFile) args.push('--state', options.stateFile, '--state-interval', '5');
  args.push(...(options.extraArgs ?? []));
  const proc = spawnManaged(anvilBinary(), args, { name: 'anvil' });
  await waitForPort(options.port, '127.0.0.1', 30_000, proc.exitReason);
  return {
    url: `http://127.0.0.1:${options.port}`,
    port: options.port,
    chainId,
    process: proc,
    // SIGTERM lets anvil write its state file.
    stop: () => proc.stop('SIGTERM', 10_000),
  };
}
