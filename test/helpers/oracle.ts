import assert from 'node:assert/strict';
import { decodeEventLog, toEventSelector, type Abi, type AbiEvent, type AbiParameter, type Address, type PublicClient } from 'viem';
import type pg from 'pg';

/**
 * The oracle for indexed data is the chain itself: eth_getLogs on the canonical chain, decoded
 * with viem and converted by the rules of DESIGN.md. This conversion is written apart from the
 * indexer's on purpose, so a mistake in one does not hide in the other.
 */

export interface TableExpectation {
  /** The event's full signature, e.g. `Transfer(address,address,uint256)`. */
  signature: string;
  table: string;
  /** Argument columns in order. */
  columns: string[];
}

function isHashedWhenIndexed(type: string): boolean {
  return type === 'string' || type === 'bytes' || type.endsWith(']') || type.startsWith('tuple');
}

function json(param: AbiParameter, value: unknown): unknown {
  const array = /^(.*)\[\d*\]$/.exec(param.type);
  if (array) return (value as unknown[]).map((v) => json({ ...param, type: array[1]! } as AbiParameter, v));
  if (param.type === 'tuple') {
    const components = (param as unknown as { components: readonly AbiParameter[] }).components;
    return Object.fromEntries(
      components.map((c, i) => [c.name || String(i), json(c, Array.isArray(value) ? value[i] : (value as Record<string, unknown>)[c.name!])]),
    );
  }
  return scalar(param.type, value);
}

function scalar(type: string, value: unknown): unknown {
  if (type.startsWith('uint') || type.startsWith('int')) return (value as bigint).toString();
  if (type === 'bool') return value;
  if (type === 'string') return (value as string).split('\u0000').join('');
  return (value as string).toLowerCase();
}

function expectedCell(param: AbiParameter & { indexed?: boolean }, value: unknown): unknown {
  if (param.indexed && isHashedWhenIndexed(param.type)) return (value as string).toLowerCase();
  if (param.type.endsWith(']') || param.type.startsWith('tuple')) return json(param, value);
  return scalar(param.type, value);
}

function signatureOf(event: AbiEvent): string {
  const t = (p: AbiParameter): string =>
    p.type.startsWith('tuple') ? `(${(p as unknown as { components: readonly AbiParameter[] }).components.map(t).join(',')})${p.type.slice(5)}` : p.type;
  return `${event.name}(${event.inputs.map(t).join(',')})`;
}

export type Row = Record<string, unknown>;

/** Rows per table as the chain says they must be, for one contract address over [fromBlock, toBlock]. */
export async function chainRows(
  client: PublicClient,
  options: { abi: Abi; address: Address | Address[]; chainId: number; fromBlock: bigint; toBlock: bigint; tables: TableExpectation[] },
): Promise<Map<string, Row[]>> {
  const events = options.abi.filter((i): i is AbiEvent => i.type === 'event' && !i.anonymous);
  const bySelector = new Map(events.map((e) => [toEventSelector(e), e]));
  const byTable = new Map<string, Row[]>(options.tables.map((t) => [t.table, []]));
  const logs = await client.request({
    method: 'eth_getLogs',
    params: [{ address: options.address, fromBlock: `0x${options.fromBlock.toString(16)}`, toBlock: `0x${options.toBlock.toString(16)}` }],
  });
  // Timestamps from the blocks themselves (not the logs' blockTimestamp the indexer may use).
  const timestamps = new Map<string, Date>();
  for (const hash of new Set(logs.map((l) => l.blockHash!))) {
    const block = await client.getBlock({ blockHash: hash });
    timestamps.set(hash, new Date(Number(block.timestamp) * 1000));
  }
  for (const log of logs) {
    const event = log.topics[0] ? bySelector.get(log.topics[0]) : undefined;
    if (!event) continue; // anonymous or not in the ABI
    const expectation = options.tables.find((t) => t.signature === signatureOf(event));
    if (!expectation) continue; // not selected
    const decoded = decodeEventLog({ abi: [event], data: log.data, topics: log.topics as never, strict: true });
    const args = decoded.args as unknown as Record<string, unknown> | unknown[];
    const row: Row = {
      chain_id: String(options.chainId),
      block_number: String(BigInt(log.blockNumber!)),
      block_hash: log.blockHash!.toLowerCase(),
      block_timestamp: timestamps.get(log.blockHash!)!,
      log_index: Number(BigInt(log.logIndex!)),
      tx_hash: log.transactionHash!.toLowerCase(),
      tx_index: Number(BigInt(log.transactionIndex!)),
      address: log.address.toLowerCase(),
    };
    event.inputs.forEach((param, i) => {
      const value = Array.isArray(args) ? args[i] : (args as Record<string, unknown>)[param.name || String(i)];
      row[expectation.columns[i]!] = expectedCell(param, value);
    });
    byTable.get(expectation.table)!.push(row);
  }
  return byTable;
}

/** Stored rows of one table for one chain, in (block_number, log_index) order. */
export async function storedRows(db: pg.Pool, schema: string, table: string, chainId: number, toBlock?: bigint): Promise<Row[]> {
  const { rows } = await db.query(
    `SELECT * FROM "${schema}"."${table}" WHERE chain_id = $1 ${toBlock === undefined ? '' : 'AND block_number <= $2'} ORDER BY block_number, log_index`,
    toBlock === undefined ? [chainId] : [chainId, String(toBlock)],
  );
  return rows as Row[];
}

/** Every table equals, row by row and column by column, what the chain says. */
export async function assertMatchesChain(
  db: pg.Pool,
  client: PublicClient,
  options: { schema: string; abi: Abi; address: Address | Address[]; chainId: number; fromBlock?: bigint; toBlock: bigint; tables: TableExpectation[] },
): Promise<{ rows: number }> {
  const expected = await chainRows(client, { ...options, fromBlock: options.fromBlock ?? 0n });
  let total = 0;
  for (const t of options.tables) {
    const want = expected.get(t.table)!;
    const have = await storedRows(db, options.schema, t.table, options.chainId, options.toBlock);
    assert.equal(have.length, want.length, `${t.table}: ${have.length} rows stored, the chain has ${want.length}`);
    assert.deepStrictEqual(have, want, `${t.table} differs from the chain`);
    total += have.length;
  }
  return { rows: total };
}

/** The table of test/fixtures/Emitter.sol's one event, as DESIGN.md names it. */
export const EMITTER_TABLES: TableExpectation[] = [{ signature: 'Transfer(address,address,uint256)', table: 'emitter_transfer', columns: ['from', 'to', 'value'] }];
