import type { ArgColumn } from '../../abi/layout';
import type { StoredEvent } from '../../db/stored-events';
import { isBlockSourceTable } from '../../indexing/interval-blocks';

/** What a handler receives as `event` (docs/handlers.md, "The handlers module"). */
export interface HandlerEvent {
  chainId: number;
  /** The config's contract name and the ABI's event name. */
  contract: string;
  name: string;
  /** By ABI argument name (unnamed: "0", "1" …): integers as bigint, addresses and bytes lowercase hex, tuples as objects, arrays as arrays. */
  args: Record<string, unknown>;
  block: { number: number; hash: string; timestamp: number | null };
  log: { index: number; address: string };
  /** With `include: ["transaction"]`, also `from`, `to` (null for a contract creation) and `value` (bigint). */
  transaction: { hash: string; index: number | null; from?: string | null; to?: string | null; value?: bigint | null };
}

interface AbiParamLike {
  name?: string;
  type: string;
  components?: readonly AbiParamLike[];
}

/** What a block handler (`"<Name>:block"`) receives as `event`. */
export interface HandlerBlockEvent {
  chainId: number;
  /** The block source's name in the config. */
  name: string;
  block: { number: number; hash: string; timestamp: number | null };
}

/** A stored row back as the handler's `event`: the arguments typed from the ABI again (a block source's block as its own event). */
export function handlerEvent(chainId: number, stored: StoredEvent): HandlerEvent | HandlerBlockEvent {
  const { table } = stored;
  if (isBlockSourceTable(table)) return { chainId, name: table.contract, block: { number: stored.blockNumber, hash: stored.blockHash, timestamp: stored.blockTimestamp } };
  const args: Record<string, unknown> = {};
  table.columns.forEach((column, i) => {
    args[column.param.name || String(i)] = cellValue(column, stored.cells[i]);
  });
  return {
    chainId,
    contract: table.contract,
    name: table.event.name,
    args,
    block: { number: stored.blockNumber, hash: stored.blockHash, timestamp: stored.blockTimestamp },
    log: { index: stored.logIndex, address: stored.address },
    transaction: {
      hash: stored.txHash,
      index: stored.txIndex,
      ...(stored.transaction
        ? { from: stored.transaction.from, to: stored.transaction.to, value: stored.transaction.value === null ? null : BigInt(stored.transaction.value) }
        : {}),
    },
  };
}

function cellValue(column: ArgColumn, cell: unknown): unknown {
  if (cell === null || cell === undefined) return null;
  switch (column.kind) {
    case 'int':
      return BigInt(cell as string);
    case 'json':
      return jsonArg(column.param as AbiParamLike, cell);
    default:
      return cell; // address, bytes, topic hash, string, bool: already as the handler sees them
  }
}

/** jsonb (integers as decimal strings) back to typed values: bigint integers, tuples keyed by name. */
function jsonArg(param: AbiParamLike, value: unknown): unknown {
  const array = /^(.*)\[\d*\]$/.exec(param.type);
  if (array) return (value as unknown[]).map((item) => jsonArg({ ...param, type: array[1]!, name: undefined }, item));
  if (param.type === 'tuple') {
    const out: Record<string, unknown> = {};
    (param.components ?? []).forEach((component, i) => {
      const key = component.name || String(i);
      out[key] = jsonArg(component, (value as Record<string, unknown>)[key]);
    });
    return out;
  }
  if (/^u?int\d*$/.test(param.type)) return BigInt(value as string);
  return value;
}
