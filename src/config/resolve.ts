import { InvalidConfigError } from '../errors';
import { eventTables, type EventTable } from '../abi/layout';
import { eventSignature, parseEventInputs, type AbiEvent } from '../abi/event-abi';
import { parseAbiItem } from 'viem';
import type { FactorySpec, IndexerSpec } from '../spec';
import { stageSpecs } from '../stages/configs';
import { parseDurationMs, type ResolvedConfig } from './schema';

export interface ResolvedContract {
  name: string;
  chain: string;
  abi: readonly unknown[];
  events?: string[];
}

/** Warnings a user should see but that do not stop the indexer (e.g. skipped anonymous events). */
export type Warn = (message: string) => void;

/**
 * Picks the events a contract indexes. `events` entries are names (every overload) or full
 * signatures (`Transfer(address,address,uint256)`); the default is every non-anonymous event.
 */
export function selectEvents(contract: ResolvedContract, warn: Warn): AbiEvent[] {
  const where = `contracts.${contract.name}`;
  const events: AbiEvent[] = [];
  contract.abi.forEach((raw, i) => {
    const item = raw as { type?: unknown; name?: unknown; inputs?: unknown; anonymous?: unknown };
    if (item.type !== 'event') return;
    if (typeof item.name !== 'string' || !/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(item.name)) {
      throw new InvalidConfigError(`${where}.abi[${i}]: event has no valid name; check the ABI file`);
    }
    const parsed = parseEventInputs(item.inputs);
    if ('reason' in parsed) throw new InvalidConfigError(`${where}.abi: event ${item.name}: ${parsed.reason}; check the ABI file`);
    events.push({ type: 'event', name: item.name, inputs: parsed.inputs, anonymous: item.anonymous === true });
  });
  if (events.length === 0) throw new InvalidConfigError(`${where}.abi: the ABI has no events to index`);

  let selected: AbiEvent[];
  if (!contract.events) {
    selected = events.filter((e) => {
      if (e.anonymous) warn(`${where}: skipping anonymous event ${e.name} (anonymous events are not supported yet)`);
      return !e.anonymous;
    });
  } else {
    selected = [];
    for (const wanted of contract.events) {
      const matches = events.filter((e) => e.name === wanted || eventSignature(e) === wanted.replace(/\s+/g, ''));
      if (matches.length === 0) {
        const known = [...new Set(events.map((e) => e.name))].join(', ');
        throw new InvalidConfigError(`${where}.events: no event "${wanted}" in the ABI (it has: ${known})`);
      }
      for (const m of matches) {
        if (m.anonymous) throw new InvalidConfigError(`${where}.events: "${wanted}" is anonymous; anonymous events are not supported yet`);
        if (!selected.includes(m)) selected.push(m);
      }
    }
  }
  if (selected.length === 0) throw new InvalidConfigError(`${where}: no indexable events selected`);
  return selected;
}

/**
 * A factory's event from its human-readable signature, and the address argument naming each new
 * contract: one-line errors that say what is wrong with either.
 */
export function resolveFactory(contract: string, factory: { address: string | string[]; event: string; parameter: string }): FactorySpec {
  const where = `contracts.${contract}.address.factory`;
  const text = factory.event.trim();
  let item: unknown;
  try {
    item = parseAbiItem(text.startsWith('event ') ? text : `event ${text}`);
  } catch (error) {
    const reason = ((error as { shortMessage?: string }).shortMessage ?? (error as Error).message).split('\n')[0];
    throw new InvalidConfigError(`${where}.event: "${factory.event}" is not an event signature (${reason}); write it like "event PairCreated(address indexed token0, address indexed token1, address pair, uint256)"`);
  }
  const event = item as { type?: string; name?: string; inputs?: unknown };
  if (event.type !== 'event') throw new InvalidConfigError(`${where}.event: "${factory.event}" is a ${event.type ?? 'declaration'}, not an event`);
  const parsed = parseEventInputs(event.inputs);
  if ('reason' in parsed) throw new InvalidConfigError(`${where}.event: ${parsed.reason}`);
  const addressArgs = parsed.inputs.filter((p) => p.type === 'address' && p.name).map((p) => p.name!);
  if (!addressArgs.includes(factory.parameter)) {
    const known = addressArgs.length > 0 ? `its address arguments: ${addressArgs.join(', ')}` : 'it has no named address argument';
    throw new InvalidConfigError(`${where}.parameter: "${factory.parameter}" is not an address argument of ${event.name} (${known})`);
  }
  const addresses = (Array.isArray(factory.address) ? factory.address : [factory.address]).map((a) => a.toLowerCase());
  return { addresses: [...new Set(addresses)], event: { type: 'event', name: event.name!, inputs: parsed.inputs }, parameter: factory.parameter };
}

/** The config as one spec per chain that has contracts, validated down to table names. */
export function buildSpecs(config: ResolvedConfig, warn: Warn): IndexerSpec[] {
  const specs = new Map<string, IndexerSpec>();
  const seenIds = new Map<number, string>();
  for (const [key, chain] of Object.entries(config.chains)) {
    const other = seenIds.get(chain.id);
    if (other) throw new InvalidConfigError(`chains.${key}.id: chain id ${chain.id} is already used by chains.${other}`);
    seenIds.set(chain.id, key);
  }
  /** The chain's spec, made when its first source (a contract, a block source) comes. */
  const specFor = (key: string): IndexerSpec => {
    let spec = specs.get(key);
    if (spec) return spec;
    const chain = config.chains[key]!;
    spec = {
      name: config.name,
      chainId: chain.id,
      chain: key,
      contracts: [],
      tuning: {
        confirmations: chain.confirmations,
        pollIntervalMs: chain.pollIntervalMs,
        maxBlockRange: chain.maxBlockRange,
        maxInFlight: chain.maxInFlight,
        maxReorgDepth: chain.maxReorgDepth,
        rpcTimeoutMs: chain.rpcTimeoutMs,
        rpcRequestsPerSecond: chain.rpcRequestsPerSecond,
        maxAddressesPerRequest: chain.maxAddressesPerRequest,
        ...(chain.crossCheck ? { crossCheck: chain.crossCheck } : {}),
      },
      verify: config.verify?.interval
        ? { intervalMs: parseDurationMs(config.verify.interval), maxChunksPerRun: config.verify.maxChunksPerRun }
        : undefined,
      ...stageSpecs(config),
    };
    specs.set(key, spec);
    return spec;
  };
  const tablesByName = new Map<string, string>();
  config.contracts.forEach((contract, i) => {
    const chain = config.chains[contract.chain];
    if (!chain) {
      const known = Object.keys(config.chains).join(', ') || 'none';
      throw new InvalidConfigError(`contracts[${i}].chain: unknown chain "${contract.chain}" (configured: ${known})`);
    }
    if (contract.endBlock !== undefined && contract.endBlock < contract.startBlock) {
      throw new InvalidConfigError(`contracts.${contract.name}.endBlock: ${contract.endBlock} is below startBlock ${contract.startBlock}`);
    }
    const events = selectEvents(contract, warn);
    let tables: EventTable[];
    try {
      tables = eventTables(contract.name, events, { includeTransaction: contract.include?.includes('transaction') });
    } catch (error) {
      throw new InvalidConfigError(`contracts.${contract.name}: ${(error as Error).message}`);
    }
    for (const t of tables) {
      const owner = tablesByName.get(t.table);
      const id = `${contract.name}.${t.signature}`;
      if (owner && owner !== id) throw new InvalidConfigError(`contracts.${contract.name}: table "${t.table}" would hold both ${owner} and ${id}; rename a contract`);
      tablesByName.set(t.table, id);
    }
    const spec = specFor(contract.chain);
    if (spec.contracts.some((c) => c.name === contract.name)) {
      throw new InvalidConfigError(`contracts[${i}].name: "${contract.name}" appears twice on chain ${contract.chain}`);
    }
    const fixed = typeof contract.address === 'string' || Array.isArray(contract.address) ? contract.address : undefined;
    const factory = fixed === undefined ? resolveFactory(contract.name, (contract.address as { factory: { address: string | string[]; event: string; parameter: string } }).factory) : undefined;
    const addresses = fixed === undefined ? [] : (Array.isArray(fixed) ? fixed : [fixed]).map((a) => a.toLowerCase());
    spec.contracts.push({
      name: contract.name,
      addresses: [...new Set(addresses)],
      ...(factory ? { factory } : {}),
      startBlock: contract.startBlock,
      endBlock: contract.endBlock,
      events,
      ...(contract.include?.length ? { include: [...new Set(contract.include)] } : {}),
    });
  });
  for (const [name, source] of Object.entries(config.blocks ?? {})) {
    if (!config.chains[source.chain]) {
      throw new InvalidConfigError(`blocks.${name}.chain: unknown chain "${source.chain}" (configured: ${Object.keys(config.chains).join(', ') || 'none'})`);
    }
    if (source.endBlock !== undefined && source.endBlock < source.startBlock) throw new InvalidConfigError(`blocks.${name}.endBlock: ${source.endBlock} is below startBlock ${source.startBlock}`);
    const spec = specFor(source.chain);
    (spec.blocks ??= []).push({ name, every: source.every, startBlock: source.startBlock, ...(source.endBlock !== undefined ? { endBlock: source.endBlock } : {}) });
  }
  return [...specs.values()];
}
