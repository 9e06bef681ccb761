import { keccak256, toBytes } from 'viem';
import { MAX_IDENTIFIER_LENGTH, isIdentifier } from '../db/identifiers';
import { snakeCase } from './naming';
import { SQL_TYPE, columnKind, eventSignature, type AbiEventItem, type AbiParam, type ColumnKind } from './solidity-types';

/** Columns every event table starts with, in this order. */
export const COMMON_COLUMNS = [
  { name: 'chain_id', sqlType: 'bigint' },
  { name: 'block_number', sqlType: 'bigint' },
  { name: 'block_hash', sqlType: 'text' },
  { name: 'log_index', sqlType: 'integer' },
  { name: 'tx_hash', sqlType: 'text' },
  { name: 'address', sqlType: 'text' },
] as const;

const COMMON_NAMES = new Set<string>(COMMON_COLUMNS.map((c) => c.name));

export interface ArgColumn {
  name: string;
  sqlType: string;
  kind: ColumnKind;
  param: AbiParam;
  /** Position of the argument in the event's inputs (and in viem's decoded args array). */
  index: number;
}

export interface EventTable {
  contract: string;
  event: AbiEventItem;
  signature: string;
  topic0: `0x${string}`;
  table: string;
  columns: ArgColumn[];
}

export function topic0Of(event: AbiEventItem): `0x${string}` {
  return keccak256(toBytes(eventSignature(event)));
}

/**
 * Column names for an event's arguments: snake_case, `argN` when unnamed, `arg_` prefix when the
 * name collides with a common column, and a numeric suffix in the rare case two names fold together.
 */
export function argumentColumns(event: AbiEventItem): ArgColumn[] {
  const used = new Set<string>(COMMON_NAMES);
  return event.inputs.map((param, index) => {
    let name = snakeCase(param.name ?? '');
    if (!name) name = `arg${index}`;
    else if (/^[0-9]/.test(name)) name = `arg_${name}`;
    else if (COMMON_NAMES.has(name)) name = `arg_${name}`;
    if (used.has(name)) name = `${name}_${index}`;
    used.add(name);
    const kind = columnKind(param);
    return { name, sqlType: SQL_TYPE[kind], kind, param, index };
  });
}

/**
 * One table per selected event of a contract: `<contract>_<event>`, and when two selected events
 * share a name, each of them gets `_<first 8 hex digits of topic0>` (DESIGN.md, "Overloads").
 */
export function eventTables(contract: string, events: readonly AbiEventItem[]): EventTable[] {
  const countByName = new Map<string, number>();
  for (const e of events) countByName.set(e.name, (countByName.get(e.name) ?? 0) + 1);
  return events.map((event) => {
    const topic0 = topic0Of(event);
    const overloaded = (countByName.get(event.name) ?? 0) > 1;
    const table = `${snakeCase(contract)}_${snakeCase(event.name)}${overloaded ? `_${topic0.slice(2, 10)}` : ''}`;
    if (!isIdentifier(table)) {
      throw new Error(
        `table name "${table}" for ${contract}.${event.name} is not usable (at most ${MAX_IDENTIFIER_LENGTH} characters of a-z, 0-9, _): shorten the contract name`,
      );
    }
    return { contract, event, signature: eventSignature(event), topic0, table, columns: argumentColumns(event) };
  });
}
