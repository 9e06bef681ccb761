import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createPublicClient, createWalletClient, http, type Address } from 'viem';
import { startAnvil } from '../src/dev/anvil';
import { demoTokenArtifact } from '../src/dev/demo';
import { CACHE, ROOT, emitter, freePort, type Dataset } from './dataset';

/**
 * bench/dataset.ts's chain (an Emitter's ERC-20 Transfer events, `perBlock` per block, the same
 * salts and recipients), with Uniswap v2's ERC20 (@uniswap/v2-core/build/ERC20.json) deployed
 * first, so a handler can read `balanceOf` and `totalSupply` at every event's block. So that
 * the token's state differs from block to block (and a read at the wrong block shows), each
 * block of events also holds, before the `emitMany` of salt `s`, a token transfer of `s` tokens
 * from the deployer to `address(s * 1000)`, the block's first recipient: at an event's block,
 * `balanceOf(to)` is `s * 10^18` for the first event of the block and 0 for the others (no other
 * recipient ever holds the token), `totalSupply()` is 10^27, and `allowance(from, to)` is 0.
 *
 * Why not bench/dataset.ts's dump itself: its anvil runs with `--prune-history`, which keeps no
 * state but the head's (an `eth_call` at any earlier block answers "BlockOutOfRangeError: block
 * height is N but requested was M"), and its dump holds no historical state either. Here anvil
 * keeps every block's state in memory (`--prune-history 10000`: at most that many states, none on
 * disk) and the dump keeps them (`--preserve-historical-states`), so reads at old blocks work
 * after a reload too.
 */
export const READS_ANVIL_ARGS = ['--hardfork', 'cancun', '--gas-limit', '300000000', '--prune-history', '10000', '--preserve-historical-states'];

export interface ReadsDataset extends Dataset {
  /** The ERC20 the handler reads, deployed at block 1 with its whole supply on the first dev account. */
  token: Address;
  /** Its totalSupply (constant: nothing mints or burns). */
  supply: bigint;
}

const SUPPLY = 10n ** 27n;
export const TOKEN_UNIT = 10n ** 18n;

/** balanceOf(to) at the block of the Transfer of salt `salt`'s `index`-th event (see above). */
export const expectedBalance = (salt: bigint, index: bigint): bigint => (index === 0n ? salt * TOKEN_UNIT : 0n);

/** The sum of balanceOf(to) over every event of a dataset of `blocks` blocks of events. */
export const expectedBalanceSum = (blocks: number): bigint => (BigInt(blocks) * BigInt(blocks + 1) / 2n) * TOKEN_UNIT;

export async function readsDatasetChain(logs: number, perBlock: number, say: (line: string) => void): Promise<ReadsDataset> {
  mkdirSync(CACHE, { recursive: true });
  const stateFile = path.join(CACHE, `reads-emitter-${logs}-${perBlock}.json`);
  const metaFile = `${stateFile}.meta.json`;
  const load = async () => {
    const started = Date.now();
    const anvil = await startAnvil({ port: await freePort(), extraArgs: [...READS_ANVIL_ARGS, '--load-state', stateFile] });
    const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as { address: Address; token: Address; head: number };
    say(`reads dataset ${logs}: loaded ${path.relative(ROOT, stateFile)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return { anvil, ...meta, logs, perBlock, supply: SUPPLY };
  };
  if (existsSync(stateFile) && existsSync(metaFile)) return load();
  say(`reads dataset ${logs}: building an ERC20 and ${logs} Transfer logs, ${perBlock} per block (once; cached in bench/.cache) …`);
  const anvil = await startAnvil({ port: await freePort(), extraArgs: [...READS_ANVIL_ARGS, '--dump-state', stateFile] });
  const transport = http(anvil.url);
  const client = createPublicClient({ transport, cacheTime: 0 });
  const [account] = await createWalletClient({ transport }).getAddresses();
  const wallet = createWalletClient({ transport, account: account! });
  const erc20 = demoTokenArtifact();
  const tokenDeploy = await wallet.deployContract({ abi: erc20.abi as never, bytecode: erc20.bytecode, args: [SUPPLY], chain: null } as never);
  const token = (await client.waitForTransactionReceipt({ hash: tokenDeploy })).contractAddress!;
  const deploy = await wallet.deployContract({ abi: emitter.abi, bytecode: emitter.bytecode, args: [], chain: null } as never);
  const address = (await client.waitForTransactionReceipt({ hash: deploy })).contractAddress!;
  // One block per salt, mined by hand: the token transfer, then the events.
  await client.request({ method: 'evm_setAutomine' as never, params: [false] as never });
  let nonce = await client.getTransactionCount({ address: account!, blockTag: 'pending' });
  let sent = 0;
  for (let salt = 1; sent < logs; salt++) {
    const count = Math.min(perBlock, logs - sent);
    await wallet.writeContract({ address: token, abi: erc20.abi as never, functionName: 'transfer', args: [`0x${(salt * 1000).toString(16).padStart(40, '0')}`, BigInt(salt) * TOKEN_UNIT], chain: null, gas: 100_000n, nonce: nonce++ } as never);
    const hash = await wallet.writeContract({ address, abi: emitter.abi, functionName: 'emitMany', args: [BigInt(count), BigInt(salt)], chain: null, gas: 30_000_000n + BigInt(count) * 4_000n, nonce: nonce++ } as never);
    await client.request({ method: 'evm_mine' as never });
    const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 20 });
    if (receipt.status !== 'success') throw new Error(`emitMany of salt ${salt} failed`);
    sent += count;
  }
  const head = Number(await client.getBlockNumber());
  await anvil.process.stop('SIGTERM', 300_000); // writes the dump (every block's state: not in anvil.stop's 10 s)
  writeFileSync(metaFile, JSON.stringify({ address, token, head }));
  return load();
}
