import {
  createPublicClient,
  createTestClient,
  createWalletClient,
  defineChain,
  http,
  type Abi,
  type Address,
  type Hex,
  type PublicClient,
  type TestClient,
  type WalletClient,
  type Chain,
  type Account,
  type Transport,
} from 'viem';
import { startAnvil, type Anvil } from '../../src/dev/anvil';
import { freePort } from './ports';

export interface TestChain {
  anvil: Anvil;
  url: string;
  chainId: number;
  chain: Chain;
  publicClient: PublicClient;
  wallet: WalletClient<Transport, Chain, Account>;
  test: TestClient;
  accounts: Address[];
  deploy: (abi: Abi, bytecode: Hex, args?: unknown[]) => Promise<Address>;
  /** Sends a contract call and waits for it to be mined; returns its block number. `gas`: a limit instead of the node's estimate. */
  send: (address: Address, abi: Abi, functionName: string, args?: unknown[], options?: { gas?: bigint }) => Promise<bigint>;
  mine: (blocks: number) => Promise<void>;
  stop: () => Promise<void>;
}

/**
 * anvil flags that make `anvil_mine` of thousands of blocks fast. With anvil's defaults (Prague,
 * every block's state kept) each new block costs time that grows with the chain's length: measured
 * with anvil 1.7.1, 6 000 empty blocks take ~30 s (viem's 10 s request timeout fails a single
 * anvil_mine of 1 000 once the chain is a few thousand long); --hardfork cancun alone ~5 s;
 * Cancun with --prune-history mines 20 000 in ~0.5 s. Logs, blocks and receipts stay available;
 * only old states (eth_call at an old block) are dropped.
 */
export const FAST_MINING_ANVIL_ARGS: readonly string[] = ['--hardfork', 'cancun', '--prune-history'];

/** A real anvil on a free loopback port, automining (one block per transaction) unless told otherwise. */
export async function startTestChain(options: { chainId?: number; blockTime?: number; anvilArgs?: readonly string[] } = {}): Promise<TestChain> {
  const anvil = await startAnvil({
    port: await freePort(),
    chainId: options.chainId ?? 31337,
    blockTime: options.blockTime,
    extraArgs: options.anvilArgs ? [...options.anvilArgs] : undefined,
  });
  const chain = defineChain({
    id: anvil.chainId,
    name: `anvil-${anvil.chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [anvil.url] } },
  });
  const transport = http(anvil.url);
  // cacheTime 0: viem otherwise serves a cached block number that can lag the transaction just mined.
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 100, cacheTime: 0 }) as PublicClient;
  const accounts = await createWalletClient({ chain, transport }).getAddresses();
  const wallet = createWalletClient({ chain, transport, account: accounts[0]! });
  const test = createTestClient({ chain, transport, mode: 'anvil' });
  return {
    anvil,
    url: anvil.url,
    chainId: anvil.chainId,
    chain,
    publicClient,
    wallet,
    test,
    accounts,
    deploy: async (abi, bytecode, args = []) => {
      const hash = await wallet.deployContract({ abi, bytecode, args });
      const receipt = await publicClient.waitForTransactionReceipt({ hash });
      if (!receipt.contractAddress) throw new Error('deployment failed');
      return receipt.contractAddress;
    },
    send: async (address, abi, functionName, args = [], options = {}) => {
      const hash = await wallet.writeContract({ address, abi, functionName, args, ...options } as never);
      const receipt = await publicClient.waitForTransactionReceipt({ hash });
      if (receipt.status !== 'success') throw new Error(`${functionName} reverted`);
      return receipt.blockNumber;
    },
    mine: async (blocks) => {
      await test.mine({ blocks });
    },
    stop: () => anvil.stop(),
  };
}

export interface EmitterPlan {
  /** How many `emitMany` transactions, with salts 1..txs. */
  txs: number;
  /** The `count` of logs the transaction with this salt emits. */
  logs: (salt: bigint) => bigint;
  /** Empty blocks mined after the transaction with this salt (none when unset or 0). */
  mine?: (salt: bigint) => number;
}

/** Deploys `emitter` (the Emitter fixture) and sends `emitMany(logs(salt), salt)` for each salt; returns its address, the head and the logs emitted. */
export async function seedEmitter(chain: TestChain, emitter: { abi: Abi; bytecode: Hex }, plan: EmitterPlan): Promise<{ address: Address; head: bigint; totalLogs: number }> {
  const address = await chain.deploy(emitter.abi, emitter.bytecode);
  let totalLogs = 0;
  for (let salt = 1n; salt <= BigInt(plan.txs); salt++) {
    const count = plan.logs(salt);
    await chain.send(address, emitter.abi, 'emitMany', [count, salt]);
    totalLogs += Number(count);
    const blocks = plan.mine?.(salt) ?? 0;
    if (blocks > 0) await chain.mine(blocks);
  }
  return { address, head: await chain.publicClient.getBlockNumber(), totalLogs };
}
