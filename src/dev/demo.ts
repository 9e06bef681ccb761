import { createRequire } from 'node:module';
import { createPublicClient, createWalletClient, defineChain, http, getAddress, parseAbi, type Address, type Hex } from 'viem';

const require = createRequire(import.meta.url);

/** The ERC-20 that Uniswap v2-core ships as deployable bytecode (mints the supply to the deployer). */
export function demoTokenArtifact(): { abi: unknown[]; bytecode: Hex } {
  const artifact = require('@uniswap/v2-core/build/ERC20.json') as { abi: unknown[]; bytecode: string };
  return { abi: artifact.abi, bytecode: `0x${artifact.bytecode.replace(/^0x/, '')}` };
}

const transferAbi = parseAbi(['function transfer(address to, uint256 value) returns (bool)', 'function approve(address spender, uint256 value) returns (bool)']);

export interface DemoChain {
  token: Address;
  /** Stops the stream of demo transfers. */
  stopTraffic: () => void;
}

/**
 * Deploys the demo token (unless the chain already has it, after a restart with saved state)
 * and sends a few transfers and approvals every `intervalMs` from anvil's unlocked dev accounts.
 */
export async function startDemoChain(rpcUrl: string, options: { intervalMs?: number; onError?: (e: unknown) => void } = {}): Promise<DemoChain> {
  const probe = createPublicClient({ transport: http(rpcUrl) });
  const chain = defineChain({
    id: await probe.getChainId(),
    name: 'demo',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
  const publicClient = createPublicClient({ transport: http(rpcUrl), chain });
  const [deployer, ...others] = await createWalletClient({ transport: http(rpcUrl), chain }).getAddresses();
  if (!deployer) throw new Error('the demo chain has no unlocked accounts');
  const wallet = createWalletClient({ transport: http(rpcUrl), account: deployer, chain });
  const { abi, bytecode } = demoTokenArtifact();

  // The first contract the first dev account deploys always lands at the same address.
  const nonce0Address = getAddress('0x5fbdb2315678afecb367f032d93f642f64180aa3');
  let token: Address = nonce0Address;
  const code = await publicClient.getCode({ address: nonce0Address }).catch(() => undefined);
  if (!code || code === '0x') {
    const hash = await wallet.deployContract({ abi: abi as never, bytecode, args: [10n ** 30n] });
    const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 200 });
    if (!receipt.contractAddress) throw new Error('demo token deployment failed');
    token = receipt.contractAddress;
  }

  let stopped = false;
  let round = 0;
  const tick = async () => {
    round += 1;
    const transfers = 1 + (round % 4);
    for (let i = 0; i < transfers; i++) {
      const to = others[(round + i) % Math.max(1, others.length)] ?? deployer;
      await wallet.writeContract({ address: token, abi: transferAbi, functionName: 'transfer', args: [to, BigInt(1000 + round * 7 + i)] });
    }
    if (round % 5 === 0) {
      await wallet.writeContract({ address: token, abi: transferAbi, functionName: 'approve', args: [others[0] ?? deployer, BigInt(round)] });
    }
  };
  const loop = async () => {
    while (!stopped) {
      await tick().catch((e) => options.onError?.(e));
      await new Promise((r) => setTimeout(r, options.intervalMs ?? 1000));
    }
  };
  void loop();
  return { token, stopTraffic: () => (stopped = true) };
}
