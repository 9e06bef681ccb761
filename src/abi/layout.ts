import { toEventSelector } from 'viem';
import { canonicalEvent, eventSignature, type AbiEvent, type AbiEventParameter } from './event-abi';
import { MAX_IDENTIFIER_LENGTH, isIdentifier, snakeCase } from './naming';

/** A column every event table (or every table of a contract with `include: ["transaction"]`) has before its arguments. */
export interface CommonColumn {
  name: 'chain_id' | 'block_number' | 'block_hash' | 'block_timestamp' | 'log_index' | 'tx_hash' | 'tx_index' | 'tx_from' | 'tx_to' | 'tx_value' | 'address';
  sqlType: string;
  /** New in v2: tables made by an earlier version lack it, and get it (at their end) on upgrade. */
  added?: true;
}

/** Columns every event table starts with, in this order (docs/tables.md, "Event tables", "Block and transaction fields"). */
export const COMMON_COLUMNS: readonly CommonColumn[] = [
  { name: 'chain_id', sqlType: 'bigint' },
  { name: 'block_number', sqlType: 'bigint' },
  { name: 'block_hash', sqlType: 'text' },
  { name: 'block_timestamp', sqlType: 'timestamp with time zone', added: true },
  { name: 'log_index', sqlType: 'integer' },
  { name: 'tx_hash', sqlType: 'text' },
  { name: 'tx_index', sqlType: 'integer', added: true },
  { name: 'address', sqlType: 'text' },
];

/** The transaction's sender, recipient (null for a contract creation) and value, for contracts with `include: ["transaction"]`. */
export const TRANSACTION_COLUMNS: readonly CommonColumn[] = [
  { name: 'tx_from', sqlType: 'text', added: true },
  { name: 'tx_to', sqlType: 'text', added: true },
  { name: 'tx_value', sqlType: 'numeric(78,0)', added: true },
];

/** A table's common columns: the transaction's fields follow tx_index when the contract includes them. */
export function commonColumns(includeTransaction: boolean): readonly CommonColumn[] {
  if (!includeTransaction) return COMMON_COLUMNS;
  const at = COMMON_COLUMNS.findIndex((c) => c.name === 'tx_index') + 1;
  return [...COMMON_COLUMNS.slice(0, at), ...TRANSACTION_COLUMNS, ...COMMON_COLUMNS.slice(at)];
}

const COMMON_NAMES = new Set<string>([...COMMON_COLUMNS, ...TRANSACTION_COLUMNS].map((c) => c.name));

export type ColumnKind = 'int' | 'address' | 'bool' | 'string' | 'bytes' | 'json' | 'topic';

/** How an event argument is stored (docs/tables.md, "Argument types"). */
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
  /** The columns before the arguments (commonColumns). */
  common: readonly CommonColumn[];
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
 * share a name, each of them gets `_<first 8 hex digits of topic0>` (docs/tables.md, "Overloads").
 */
export function eventTables(contract: string, events: readonly AbiEvent[], options: { includeTransaction?: boolean } = {}): EventTable[] {
  const common = commonColumns(options.includeTransaction ?? false);
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
    return { contract, event, signature, topic0, table, common, columns: argumentColumns(event) };
  });
}
