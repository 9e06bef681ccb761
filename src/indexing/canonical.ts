import type { EventTable } from '../abi/layout';

/**
 * One text per row, the same whether the row comes from PostgreSQL (numeric as text, jsonb as
 * objects, bigint as text) or from decoding the chain (JSON as text): what verification compares.
 */
export function canonicalRow(table: EventTable, common: { blockNumber: unknown; logIndex: unknown; blockHash: unknown; txHash: unknown; address: unknown }, args: readonly unknown[]): string {
  const cells = [String(common.blockNumber), String(common.logIndex), String(common.blockHash), String(common.txHash), String(common.address)];
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
