import { createRequire } from 'node:module';
import {
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  getAddress,
  keccak256,
  maxUint256,
  parseAbi,
  parseUnits,
  toHex,
  type Address,
  type Hex,
  type PublicClient,
} from 'viem';

const require = createRequire(import.meta.url);

/** The ERC-20 that Uniswap v2-core ships as deployable bytecode (mints the supply to the deployer). */
export function demoTokenArtifact(): { abi: unknown[]; bytecode: Hex } {
  const artifact = require('@uniswap/v2-core/build/ERC20.json') as { abi: unknown[]; bytecode: string };
  return { abi: artifact.abi, bytecode: `0x${artifact.bytecode.replace(/^0x/, '')}` };
}

const tokenAbi = parseAbi([
  'function transfer(address to, uint256 value) returns (bool)',
  'function approve(address spender, uint256 value) returns (bool)',
  'function balanceOf(address owner) view returns (uint256)',
]);

/** The token has 18 decimals (Uniswap v2's ERC20): one token is 10^18 of its smallest unit. */
export const DEMO_DECIMALS = 18;

/** A billion tokens, minted to the deployer. */
export const DEMO_SUPPLY = parseUnits('1000000000', DEMO_DECIMALS);

/** A random-looking integer from `parts` (no Math.random: the same round sends the same amounts). */
function hashed(...parts: Array<string | number>): bigint {
  return BigInt(keccak256(toHex(`temporal-evm-indexer demo ${parts.join(' ')}`)));
}

/**
 * The amount of transfer `i` of round `round`, as a decimal number of tokens read with 18
 * decimals: from 0.000000000000000001 up to millions of tokens, most with digits down to the
 * last of the 18 decimals (e.g. 48213.000000104970531117), some rounder (12.5), a few only dust.
 */
export function demoAmount(round: number, i: number): bigint {
  const h = hashed('amount', round, i);
  if (h % 12n === 0n) return 1n + ((h >> 8n) % 999n); // dust: 1 to 999 of the smallest unit
  const whole = (h >> 16n) % 10n ** ((h >> 8n) % 8n); // 0 to 7 digits of whole tokens
  const decimals = [18, 18, 18, 18, 18, 12, 6, 2][Number((h >> 4n) % 8n)]!;
  const fraction = ((h >> 96n) % 10n ** BigInt(decimals)).toString().padStart(decimals, '0');
  const amount = parseUnits(`${whole}.${fraction}`, DEMO_DECIMALS);
  return amount > 0n ? amount : 1n + ((h >> 8n) % 999n);
}

/** What the deployer sends each of anvil's other dev accounts first: one to ten million tokens, to the last decimal. */
function fundingAmount(k: number): bigint {
  const h = hashed('funding', k);
  return parseUnits(`${1_000_000n + (h % 9_000_000n)}.${((h >> 64n) % 10n ** 18n).toString().padStart(18, '0')}`, DEMO_DECIMALS);
}

/** Holders beyond the dev accounts (addresses nobody has the key of): they only receive. */
const OUTSIDE_HOLDERS: Address[] = Array.from({ length: 5 }, (_, k) => getAddress(`0x${(hashed('holder', k) % 2n ** 160n).toString(16).padStart(40, '0')}`));

export interface DemoChain {
  token: Address;
  /** Stops the stream of demo transfers. */
  stopTraffic: () => void;
}

/**
 * Deploys the demo token (unless the chain already has it, after a restart with saved state), funds
 * anvil's other unlocked dev accounts from the deployer, and then every `intervalMs` sends a few
 * transfers among them (and to a few outside holders) and now and then an approval: amounts with
 * 18 decimals, derived from the round number, never more than a sixteenth of what the sender holds
 * (so nothing reverts, even with a block's transfers still pending).
 */
export async function startDemoChain(rpcUrl: string, options: { intervalMs?: number; onError?: (e: unknown) => void } = {}): Promise<DemoChain> {
  const probe = createPublicClient({ transport: http(rpcUrl) });
  const chain = defineChain({
    id: await probe.getChainId(),
    name: 'demo',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
  const publicClient = createPublicClient({ transport: http(rpcUrl), chain }) as PublicClient;
  const accounts = await createWalletClient({ transport: http(rpcUrl), chain }).getAddresses();
  const [deployer, ...others] = accounts;
  if (!deployer) throw new Error('the demo chain has no unlocked accounts');
  const wallets = new Map(accounts.map((a) => [a, createWalletClient({ transport: http(rpcUrl), account: a, chain })]));
  const wallet = wallets.get(deployer)!;
  const { abi, bytecode } = demoTokenArtifact();

  // The first contract the first dev account deploys always lands at the same address.
  const nonce0Address = getAddress('0x5fbdb2315678afecb367f032d93f642f64180aa3');
  let token: Address = nonce0Address;
  const code = await publicClient.getCode({ address: nonce0Address }).catch(() => undefined);
  if (!code || code === '0x') {
    const hash = await wallet.deployContract({ abi: abi as never, bytecode, args: [DEMO_SUPPLY] });
    const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 200 });
    if (!receipt.contractAddress) throw new Error('demo token deployment failed');
    token = receipt.contractAddress;
  }
  const balanceOf = (owner: Address) => publicClient.readContract({ address: token, abi: tokenAbi, functionName: 'balanceOf', args: [owner] });
  const send = (from: Address, functionName: 'transfer' | 'approve', args: readonly [Address, bigint]) =>
    wallets.get(from)!.writeContract({ address: token, abi: tokenAbi, functionName, args, account: from, chain } as never) as Promise<Hex>;

  // Fund the other dev accounts (those holding less than one token: a fresh chain, or an older demo's state).
  const funding: Hex[] = [];
  for (const [k, account] of others.entries()) {
    if ((await balanceOf(account)) < parseUnits('1', DEMO_DECIMALS)) funding.push(await send(deployer, 'transfer', [account, fundingAmount(k)]));
  }
  for (const hash of funding) await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 200 });

  const holders = [...accounts, ...OUTSIDE_HOLDERS];
  let stopped = false;
  let round = 0;
  const tick = async () => {
    round += 1;
    const transfers = 1 + (round % 4);
    for (let i = 0; i < transfers; i++) {
      let from = accounts[(round + 3 * i) % accounts.length]!;
      let cap = (await balanceOf(from)) / 16n;
      if (cap === 0n && from !== deployer) {
        from = deployer;
        cap = (await balanceOf(from)) / 16n;
      }
      if (cap === 0n) continue;
      let to = holders[Number(hashed('to', round, i) % BigInt(holders.length))]!;
      if (to === from) to = holders[(holders.indexOf(to) + 1) % holders.length]!;
      const amount = demoAmount(round, i);
      await send(from, 'transfer', [to, amount < cap ? amount : cap]);
    }
    if (round % 5 === 0) {
      // Now and then an approval; every fourth one "unlimited", as wallets ask for them.
      const n = round / 5;
      const owner = accounts[n % accounts.length]!;
      const spender = accounts[(n + 1 + (n % 3)) % accounts.length]!;
      await send(owner, 'approve', [spender, n % 4 === 0 ? maxUint256 : demoAmount(round, 99)]);
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
