import type { EventTable } from '../abi/layout';

/**
 * One text per row, the same whether the row comes from PostgreSQL (numeric as text, jsonb as
 * objects, bigint as text) or from decoding the chain (JSON as text): what verification compares.
 */
export interface CanonicalCommon {
  blockNumber: unknown;
  logIndex: unknown;
  blockHash: unknown;
  /** Unix seconds, or a Date as PostgreSQL returns timestamptz. */
  blockTimestamp: unknown;
  txHash: unknown;
  txIndex: unknown;
  address: unknown;
}

export function canonicalRow(table: EventTable, common: CanonicalCommon, args: readonly unknown[]): string {
  const seconds = common.blockTimestamp instanceof Date ? common.blockTimestamp.getTime() / 1000 : common.blockTimestamp;
  const cells = [common.blockNumber, common.logIndex, common.blockHash, seconds, common.txHash, common.txIndex, common.address].map((v) => (v === null || v === undefined ? '\u2205' : String(v)));
  table.columns.forEach((column, i) => {
    const value = args[i];
    if (value === null || value === undefined) cells.push('\u2205');
    else if (column.kind === 'json') cells.push(stableJson(typeof value === 'string' ? JSON.parse(value) : value));
    else cells.push(String(value));
  });
  return `${table.table}\u0001${cells.join('\u0001')}`;
}

/** JSON with object keys sorted, so jsonb's key order does not matter. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
