import { z } from 'zod';
import { stageConfigSchemas } from '../stages/configs';

/** Config file schema (docs/configuration.md, "Config file"). Defaults live here so every caller sees the same. */

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte hex address');
const blockNumber = z.number().int('must be a whole number').nonnegative('must be ≥ 0');
const duration = z.string().regex(/^\d+(ms|s|m|h|d)$/, 'must be a duration like "30s", "15m", "1h" or "1d"');

const rpcUrl = z.string().refine((s) => {
  try {
    return ['http:', 'https:', 'ws:', 'wss:'].includes(new URL(s).protocol);
  } catch {
    return false;
  }
}, 'must be an http(s) or ws(s) URL');

export const chainConfigSchema = z.strictObject({
  id: z.number().int().positive('must be a positive chain id'),
  rpc: z.union([rpcUrl, z.array(rpcUrl).min(1)]).optional(),
  confirmations: z.number().int().nonnegative().default(0),
  pollIntervalMs: z.number().int().min(50).default(1000),
  maxBlockRange: z.number().int().min(1).default(2000),
  maxInFlight: z.number().int().min(1).max(64).default(4),
  maxReorgDepth: z.number().int().min(1).default(64),
  rpcTimeoutMs: z.number().int().min(100).default(30_000),
  rpcRequestsPerSecond: z.number().positive().optional(),
  /** Addresses per eth_getLogs request: a factory's children are asked for in chunks of this many. */
  maxAddressesPerRequest: z.number().int().min(1).max(10_000).default(500),
  /**
   * With two or more endpoints, every eth_getLogs range ("all", the default there), one in ten
   * ("sample") or none ("off") is also asked of a second endpoint, and the union kept.
   */
  crossCheck: z.enum(['all', 'sample', 'off']).optional(),
});

const abiParamSchema: z.ZodType<unknown> = z.lazy(() =>
  z.looseObject({
    name: z.string().optional(),
    type: z.string(),
    indexed: z.boolean().optional(),
    internalType: z.string().optional(),
    components: z.array(abiParamSchema).optional(),
  }),
);

export const abiItemSchema = z.looseObject({
  type: z.string(),
  name: z.string().optional(),
  inputs: z.array(abiParamSchema).optional(),
  anonymous: z.boolean().optional(),
});

/** Contracts discovered at run time: the addresses a factory's event names (docs/factories.md). */
export const factoryConfigSchema = z.strictObject({
  address: z.union([address, z.array(address).min(1)]),
  event: z.string().min(1, 'must be an event signature like "event PairCreated(address indexed token0, address indexed token1, address pair, uint256)"'),
  parameter: z.string().min(1, 'must name the address argument of the event that holds the new contract'),
});

export const contractConfigSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'must start with a letter and hold only letters, digits and _'),
  chain: z.string().min(1),
  address: z.union([address, z.array(address).min(1), z.strictObject({ factory: factoryConfigSchema })]),
  abi: z.union([z.array(abiItemSchema), z.string().min(1)]),
  startBlock: blockNumber.default(0),
  endBlock: blockNumber.optional(),
  events: z.array(z.string().min(1)).min(1).optional(),
  /** Extra fields per row that cost extra requests: the transaction's from, to and value. */
  include: z.array(z.enum(['transaction'])).optional(),
});

export const configSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/, 'must match [a-z][a-z0-9_]* (it is also the PostgreSQL schema name)')
    .max(48, 'must be at most 48 characters'),
  chains: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/, 'chain keys hold only letters, digits, _ and -'), chainConfigSchema),
  contracts: z.array(contractConfigSchema).default([]),
  /** Blocks handlers run on every N blocks (docs/handlers.md, "Block handlers"): `"<Name>:block"`. */
  blocks: z
    .record(
      z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'block source names start with a letter and hold only letters, digits and _'),
      z.strictObject({
        chain: z.string().min(1),
        every: z.number().int('must be a whole number of blocks').min(1, 'must be a whole number of blocks ≥ 1'),
        startBlock: blockNumber.default(0),
        endBlock: blockNumber.optional(),
      }),
    )
    .optional(),
  verify: z.strictObject({ interval: duration.optional(), maxChunksPerRun: z.number().int().min(1).optional() }).optional(),
  ...stageConfigSchemas,
}).refine((c) => c.contracts.length > 0 || Object.keys(c.blocks ?? {}).length > 0, { message: 'must list at least one contract (or a block source in blocks)', path: ['contracts'] });

export type ChainConfig = z.output<typeof chainConfigSchema>;
export type ContractConfig = z.output<typeof contractConfigSchema>;
export type IndexerConfig = z.output<typeof configSchema>;
export type IndexerConfigInput = z.input<typeof configSchema>;

export function parseDurationMs(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new Error(`bad duration ${text}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

/** A config whose ABI paths have been read: every contract carries its ABI array. */
export type ResolvedConfig = Omit<IndexerConfig, 'contracts'> & {
  contracts: Array<Omit<ContractConfig, 'abi'> & { abi: unknown[] }>;
};
