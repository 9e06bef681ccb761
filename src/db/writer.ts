import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type { CommonColumn, EventTable } from '../abi/layout';
import { qualified, quoteIdent } from './identifiers';
import type { DecodedLog } from '../indexing/log-router';
import { markDiscovered, recordChildren, type FactoryChild } from './factory-children';
import type { IntervalBlock } from '../indexing/interval-blocks';
import { BOOKKEEPING } from './schema';
import { inTransaction, type Pool, type PoolClient } from './pool';

// PostgreSQL caps a statement at 65535 bind parameters.
const MAX_PARAMS = 60_000;

export interface RangeWrite {
  schema: string;
  chainId: number;
  fromBlock: number;
  toBlock: number;
  tables: EventTable[];
  logs: DecodedLog[];
  /** Hashes of blocks in the range worth keeping for reorg detection (number → hash, parent hash if known). */
  blocks: Array<{ number: number; hash: string; parentHash?: string }>;
  /** When set, the checkpoint moves to `toBlock` in the same transaction, but only if it stood at `fromBlock - 1`. */
  advanceCheckpoint?: boolean;
  /** Realtime with factories: the children found in the range, recorded with it, and the discovery cursor moved to `toBlock`. */
  children?: { found: readonly FactoryChild[]; discoveryStart: number };
  /** Block handlers' blocks of the range (when the spec has block sources): they replace what the range held. */
  intervalBlocks?: readonly IntervalBlock[];
}

export interface RangeWriteResult {
  rows: number;
  /** False when `advanceCheckpoint` was asked but the checkpoint was elsewhere (nothing was written). */
  checkpointAdvanced: boolean;
}

/** Below this many rows a multi-row INSERT is as fast as COPY and simpler to read in logs. */
const COPY_THRESHOLD = 200;

/** How each common column's value is read off a decoded log (chain_id is the range's, not the log's). */
const COMMON_VALUES: Record<Exclude<CommonColumn['name'], 'chain_id'>, (l: DecodedLog) => unknown> = {
  block_number: (l) => l.blockNumber,
  block_hash: (l) => l.blockHash,
  block_timestamp: (l) => (l.blockTimestamp === null ? null : new Date(l.blockTimestamp * 1000).toISOString()),
  log_index: (l) => l.logIndex,
  tx_hash: (l) => l.txHash,
  tx_index: (l) => l.txIndex,
  tx_from: (l) => l.transaction?.from ?? null,
  tx_to: (l) => l.transaction?.to ?? null,
  tx_value: (l) => l.transaction?.value ?? null,
  address: (l) => l.address,
};

/** The value of a common column for one log. */
export function commonValue(column: CommonColumn['name'], chainId: number, l: DecodedLog): unknown {
  return column === 'chain_id' ? chainId : COMMON_VALUES[column](l);
}

/** COPY text format: backslash, tab, newline and carriage return escaped; NULL as \N. */
export function copyCell(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  if (typeof value === 'bigint' || typeof value === 'number') return String(value);
  const text = typeof value === 'boolean' ? (value ? 't' : 'f') : String(value);
  return text.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/** A cell that cannot hold a backslash, tab or newline (hex, digits, a timestamp, a boolean): no escaping to look for. */
function plainCell(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  if (typeof value === 'boolean') return value ? 't' : 'f';
  return String(value);
}

/**
 * The COPY line of one log of `table`, by a function made once per table and range: backfills
 * write millions of lines. Only cells that can hold arbitrary text are escaped: string and JSON
 * arguments, and the transaction fields, which reach us unchecked. Hashes and addresses are
 * checked hex by then (rpc/client.ts, abi/decode.ts), integers are digits.
 */
export function copyLineOf(table: EventTable, chainId: number): (l: DecodedLog) => string {
  const chainText = String(chainId);
  // A block's logs share its timestamp: formatted once per block, not once per log.
  let timestamp: number | null = null;
  let timestampText = '\\N';
  const common = table.common.map((c): ((l: DecodedLog) => string) => {
    if (c.name === 'chain_id') return () => chainText;
    if (c.name === 'block_timestamp') {
      return (l) => {
        if (l.blockTimestamp !== timestamp) {
          timestamp = l.blockTimestamp;
          timestampText = plainCell(COMMON_VALUES.block_timestamp(l));
        }
        return timestampText;
      };
    }
    const value = COMMON_VALUES[c.name];
    const escape = c.name === 'tx_from' || c.name === 'tx_to' || c.name === 'tx_value';
    return escape ? (l) => copyCell(value(l)) : (l) => plainCell(value(l));
  });
  const args = table.columns.map((c) => (c.kind === 'string' || c.kind === 'json' ? copyCell : plainCell));
  // Every table starts with chain_id (COMMON_COLUMNS), so a line never starts with a tab.
  const [first, ...rest] = common;
  return (l) => {
    let line = first!(l);
    for (let i = 0; i < rest.length; i++) line += `\t${rest[i]!(l)}`;
    for (let i = 0; i < args.length; i++) line += `\t${args[i]!(l.args[i])}`;
    return `${line}\n`;
  };
}

/** COPY of `lines` (each ending in a newline) into `target`: the bulk path, several times faster than INSERT for big ranges. */
async function copyLines(client: PoolClient, target: string, columns: string[], lines: Iterable<string>): Promise<void> {
  const stream = client.query(copyFrom(`COPY ${target} (${columns.map(quoteIdent).join(', ')}) FROM STDIN`));
  await pipeline(Readable.from(copyChunks(lines)), stream);
}

/** Bytes of COPY text per chunk: each chunk is one socket write (one per row cost a sixth of the worker's CPU). */
const COPY_CHUNK_CHARS = 64 * 1024;

/** COPY lines joined into chunks of about COPY_CHUNK_CHARS. */
export function* copyChunks(lines: Iterable<string>): Generator<string> {
  let chunk = '';
  for (const line of lines) {
    chunk += line;
    if (chunk.length >= COPY_CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

/** The COPY lines of `logs`, made as the stream asks for them. */
function* linesOf(logs: readonly DecodedLog[], line: (l: DecodedLog) => string): Generator<string> {
  for (const l of logs) yield line(l);
}

/** Multi-row INSERT of `rows` into `table`, chunked to stay under the parameter cap. */
async function insertRows(client: PoolClient, target: string, columns: string[], rows: unknown[][]): Promise<void> {
  const perChunk = Math.max(1, Math.floor(MAX_PARAMS / columns.length));
  const columnList = columns.map(quoteIdent).join(', ');
  for (let start = 0; start < rows.length; start += perChunk) {
    const chunk = rows.slice(start, start + perChunk);
    const params: unknown[] = [];
    const tuples = chunk.map((row) => {
      const placeholders = row.map((value) => {
        params.push(value);
        return `$${params.length}`;
      });
      return `(${placeholders.join(', ')})`;
    });
    await client.query(`INSERT INTO ${target} (${columnList}) VALUES ${tuples.join(', ')}`, params);
  }
}

/**
 * Writes one block range in one transaction: its rows (replacing whatever the range held before,
 * so a re-run is idempotent), its block hashes and its completion record; all or nothing.
 */
export async function writeRange(pool: Pool, w: RangeWrite): Promise<RangeWriteResult> {
  return inTransaction(pool, (client) => writeRangeIn(client, w));
}

/** `writeRange`'s work inside a transaction of the caller's (a repair's). */
export async function writeRangeIn(client: PoolClient, w: RangeWrite): Promise<RangeWriteResult> {
  const byTable = new Map<string, DecodedLog[]>();
  for (const log of w.logs) {
    const list = byTable.get(log.table);
    if (list) list.push(log);
    else byTable.set(log.table, [log]);
  }
  if (w.advanceCheckpoint) {
    const { rowCount } = await client.query(
      `UPDATE ${qualified(w.schema, BOOKKEEPING.checkpoints)} SET block_number = $2, updated_at = now() WHERE chain_id = $1 AND block_number = $3`,
      [w.chainId, w.toBlock, w.fromBlock - 1],
    );
    if (rowCount !== 1) return { rows: 0, checkpointAdvanced: false };
  }
  for (const table of w.tables) {
    await client.query(`DELETE FROM ${qualified(w.schema, table.table)} WHERE chain_id = $1 AND block_number BETWEEN $2 AND $3`, [
      w.chainId,
      w.fromBlock,
      w.toBlock,
    ]);
    const logs = byTable.get(table.table);
    if (!logs) continue;
    const columns = [...table.common.map((c) => c.name), ...table.columns.map((c) => c.name)];
    if (logs.length >= COPY_THRESHOLD) await copyLines(client, qualified(w.schema, table.table), columns, linesOf(logs, copyLineOf(table, w.chainId)));
    else {
      const rows = logs.map((l) => [...table.common.map((c) => commonValue(c.name, w.chainId, l)), ...l.args]);
      await insertRows(client, qualified(w.schema, table.table), columns, rows);
    }
  }
  if (w.intervalBlocks) {
    await client.query(`DELETE FROM ${qualified(w.schema, BOOKKEEPING.intervalBlocks)} WHERE chain_id = $1 AND block_number BETWEEN $2 AND $3`, [w.chainId, w.fromBlock, w.toBlock]);
    if (w.intervalBlocks.length > 0) {
      const rows = w.intervalBlocks.map((b) => [w.chainId, b.source, b.number, b.hash, new Date(b.timestamp * 1000).toISOString()]);
      await insertRows(client, qualified(w.schema, BOOKKEEPING.intervalBlocks), ['chain_id', 'source', 'block_number', 'block_hash', 'block_timestamp'], rows);
    }
  }
  if (w.blocks.length > 0) {
    const rows = w.blocks.map((b) => [w.chainId, b.number, b.hash, b.parentHash ?? null]);
    await client.query(
      `DELETE FROM ${qualified(w.schema, BOOKKEEPING.blocks)} WHERE chain_id = $1 AND block_number = ANY($2::bigint[])`,
      [w.chainId, w.blocks.map((b) => b.number)],
    );
    await insertRows(client, qualified(w.schema, BOOKKEEPING.blocks), ['chain_id', 'block_number', 'block_hash', 'parent_hash'], rows);
  }
  if (w.children) {
    await recordChildren(client, w.schema, w.chainId, w.children.found);
    await markDiscovered(client, w.schema, w.chainId, w.children.discoveryStart, w.toBlock);
  }
  await client.query(
    `INSERT INTO ${qualified(w.schema, BOOKKEEPING.ranges)} (chain_id, from_block, to_block, logs) VALUES ($1, $2, $3, $4)
     ON CONFLICT (chain_id, from_block) DO UPDATE SET to_block = EXCLUDED.to_block, logs = EXCLUDED.logs, completed_at = clock_timestamp()`,
    [w.chainId, w.fromBlock, w.toBlock, w.logs.length],
  );
  return { rows: w.logs.length, checkpointAdvanced: true };
}
