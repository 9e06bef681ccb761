import { toEventSelector } from 'viem';
import { MAX_IDENTIFIER_LENGTH, isIdentifier } from '../db/identifiers';
import { canonicalEvent, eventSignature, type AbiEvent, type AbiEventParameter } from './event-abi';
import { snakeCase } from './naming';

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

export type ColumnKind = 'int' | 'address' | 'bool' | 'string' | 'bytes' | 'json' | 'topic';

/** How an event argument is stored (DESIGN.md, "Argument types"). */
export function columnKind(param: AbiEventParameter): ColumnKind {
  const type = param.type;
  const isComposite = type.endsWith(']') || type.startsWith('tuple');
  const isDynamicBytes = type === 'string' || type === 'bytes';
  if (param.indexed && (isComposite || isDynamicBytes)) return 'topic';
  if (isComposite) return 'json';
  if (/^u?int\d*$/.test(type)) return 'int';
  if (type === 'address') return 'address';
  if (type === 'bool') return 'bool';
  if (type === 'string') return 'string';
  return 'bytes';
}

export const SQL_TYPE: Record<ColumnKind, string> = {
  int: 'numeric(78,0)',
  address: 'text',
  bool: 'boolean',
  string: 'text',
  bytes: 'text',
  json: 'jsonb',
  topic: 'text',
};

export interface ArgColumn {
  name: string;
  sqlType: string;
  kind: ColumnKind;
  param: AbiEventParameter;
  /** Position of the argument in the event's inputs (and in viem's decoded args array). */
  index: number;
}

export interface EventTable {
  contract: string;
  /** In canonical form (see `canonicalEvent`). */
  event: AbiEvent;
  signature: string;
  topic0: `0x${string}`;
  table: string;
  columns: ArgColumn[];
}

/**
 * Column names for an event's arguments: snake_case, `argN` when unnamed, `arg_` prefix when the
 * name collides with a common column, and a numeric suffix in the rare case two names fold together.
 */
export function argumentColumns(event: AbiEvent): ArgColumn[] {
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
export function eventTables(contract: string, events: readonly AbiEvent[]): EventTable[] {
  const countByName = new Map<string, number>();
  for (const e of events) countByName.set(e.name, (countByName.get(e.name) ?? 0) + 1);
  return events.map((raw) => {
    const event = canonicalEvent(raw);
    const signature = eventSignature(event);
    const topic0 = toEventSelector(signature);
    const overloaded = (countByName.get(event.name) ?? 0) > 1;
    const table = `${snakeCase(contract)}_${snakeCase(event.name)}${overloaded ? `_${topic0.slice(2, 10)}` : ''}`;
    if (!isIdentifier(table)) {
      throw new Error(
        `table name "${table}" for ${contract}.${event.name} is not usable (at most ${MAX_IDENTIFIER_LENGTH} characters of a-z, 0-9, _): shorten the contract name`,
      );
    }
    return { contract, event, signature, topic0, table, columns: argumentColumns(event) };
  });
}
