import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPublicClient, createWalletClient, http, type Address } from 'viem';
import { startAnvil, type Anvil } from '../src/dev/anvil';
import { compileFixture } from '../test/helpers/solidity';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CACHE = path.join(ROOT, 'bench', '.cache');
const ANVIL_ARGS = ['--hardfork', 'cancun', '--gas-limit', '300000000', '--prune-history'];
export const emitter = compileFixture('Emitter');

export interface Dataset {
  anvil: Anvil;
  address: Address;
  head: number;
  logs: number;
  perBlock: number;
}

export const freePort = async () => (await import('get-port')).default({ host: '127.0.0.1' });

/**
 * A reproducible chain: an Emitter contract emitting ERC-20 Transfer events, `perBlock` per block,
 * `logs` in all, on anvil; built once, dumped to bench/.cache and reloaded, so every run indexes the same.
 */
export async function datasetChain(logs: number, perBlock: number, say: (line: string) => void): Promise<Dataset> {
  mkdirSync(CACHE, { recursive: true });
  const stateFile = path.join(CACHE, `emitter-${logs}-${perBlock}.json`);
  const metaFile = `${stateFile}.meta.json`;
  if (existsSync(stateFile) && existsSync(metaFile)) {
    const anvil = await startAnvil({ port: await freePort(), extraArgs: [...ANVIL_ARGS, '--load-state', stateFile] });
    const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as { address: Address; head: number };
    say(`dataset ${logs}: reloaded ${path.relative(ROOT, stateFile)}`);
    return { anvil, ...meta, logs, perBlock };
  }
  say(`dataset ${logs}: building ${logs} logs, ${perBlock} per block (once; cached in bench/.cache) …`);
  const anvil = await startAnvil({ port: await freePort(), extraArgs: [...ANVIL_ARGS, '--dump-state', stateFile] });
  const transport = http(anvil.url);
  const client = createPublicClient({ transport, cacheTime: 0 });
  const [account] = await createWalletClient({ transport }).getAddresses();
  const wallet = createWalletClient({ transport, account: account! });
  const deploy = await wallet.deployContract({ abi: emitter.abi, bytecode: emitter.bytecode, args: [], chain: null } as never);
  const address = (await client.waitForTransactionReceipt({ hash: deploy })).contractAddress!;
  let sent = 0;
  for (let salt = 1; sent < logs; salt++) {
    const count = Math.min(perBlock, logs - sent);
    const hash = await wallet.writeContract({ address, abi: emitter.abi, functionName: 'emitMany', args: [BigInt(count), BigInt(salt)], chain: null, gas: 30_000_000n + BigInt(count) * 4_000n } as never);
    await client.waitForTransactionReceipt({ hash, pollingInterval: 20 });
    sent += count;
  }
  const head = Number(await client.getBlockNumber());
  await anvil.stop(); // writes the dump
  writeFileSync(metaFile, JSON.stringify({ address, head }));
  const reloaded = await startAnvil({ port: await freePort(), extraArgs: [...ANVIL_ARGS, '--load-state', stateFile] });
  return { anvil: reloaded, address, head, logs, perBlock };
}
