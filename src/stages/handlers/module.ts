import type { EventTable } from '../../abi/layout';
import { blockSourceTable } from '../../indexing/interval-blocks';
import type { IndexerSpec } from '../../spec';
import { existsSync } from 'node:fs';
import { importUserModule } from '../../user-module';
import { InvalidHandlersError, oneLine } from '../../errors';
import type { HandlerBlockEvent, HandlerEvent } from './event';
import type { HandlerClient } from './chain-reads';
import type { HandlerStore } from './store';

/** What handlers get to touch: queries inside the batch's transaction, search_path = the indexer's schema. */
export interface HandlerDb {
  query: <R extends Record<string, unknown> = Record<string, unknown>>(text: string, values?: unknown[]) => Promise<{ rows: R[]; rowCount: number | null }>;
}

/** What a handler gets: its event, `db` and `store` in the batch's transaction, and `client`, reads of the chain at the event's block. */
export interface HandlerContext {
  /** A log's event, or a block handler's block (`"<Name>:block"`). */
  event: HandlerEvent | HandlerBlockEvent;
  db: HandlerDb;
  store: HandlerStore;
  client: HandlerClient;
}

export type Handler = (context: HandlerContext) => unknown;

/** The module's default export (docs/handlers.md, "The handlers module"). */
export interface HandlersModule {
  setup?: (context: { db: HandlerDb }) => unknown;
  on: Record<string, Handler>;
}

/** A module checked against the indexer's tables: which handler each event table's rows go to. */
export interface BoundHandlers {
  setup?: HandlersModule['setup'];
  /** Event table → its handler and the key it was registered under ("Token:Transfer"). */
  byTable: Map<string, { key: string; handle: Handler }>;
}

/** `Contract:Event`, or with the signature's types when the contract has several events of that name. */
export function handlerKey(table: EventTable, overloaded: boolean): string {
  return overloaded ? `${table.contract}:${table.signature}` : `${table.contract}:${table.event.name}`;
}

/** Loads a handlers module; a file that is missing or does not load is a one-line error. */
export async function importHandlers(file: string): Promise<HandlersModule> {
  if (!existsSync(file)) throw new InvalidHandlersError(`handlers: ${file} could not be loaded: file not found`);
  let mod: Record<string, unknown>;
  try {
    mod = await importUserModule(file);
  } catch (error) {
    throw new InvalidHandlersError(`handlers: ${file} could not be loaded: ${oneLine(error)}`);
  }
  const exported = (mod.default ?? mod) as Partial<HandlersModule> | undefined;
  if (!exported || typeof exported !== 'object') throw new InvalidHandlersError(`handlers: ${file} has no default export { setup?, on: { "Contract:Event": fn } }`);
  if (exported.setup !== undefined && typeof exported.setup !== 'function') throw new InvalidHandlersError(`handlers: setup in ${file} is not a function`);
  const on = exported.on ?? {};
  if (typeof on !== 'object' || Array.isArray(on)) throw new InvalidHandlersError(`handlers: "on" in ${file} must be an object of "Contract:Event": function`);
  for (const [key, handle] of Object.entries(on)) {
    if (typeof handle !== 'function') throw new InvalidHandlersError(`handlers: "${key}" in ${file} is not a function`);
  }
  return { setup: exported.setup, on };
}

/** What handlers may be registered for: the spec's event tables, and its block sources (`"<Name>:block"`). */
export function handledTables(spec: Pick<IndexerSpec, 'blocks'>, eventTables: readonly EventTable[]): EventTable[] {
  return [...eventTables, ...(spec.blocks ?? []).map(blockSourceTable)];
}

/** Matches the module's keys to the indexer's event tables; a key naming no indexed event is an error. */
export function bindHandlers(module: HandlersModule, tables: readonly EventTable[]): BoundHandlers {
  const names = new Map<string, number>();
  for (const t of tables) names.set(`${t.contract}:${t.event.name}`, (names.get(`${t.contract}:${t.event.name}`) ?? 0) + 1);
  const byKey = new Map(tables.map((t) => [handlerKey(t, names.get(`${t.contract}:${t.event.name}`)! > 1), t]));
  const byTable = new Map<string, { key: string; handle: Handler }>();
  for (const [key, handle] of Object.entries(module.on)) {
    const table = byKey.get(key.replace(/\s+/g, ''));
    if (!table) {
      const overloads = [...byKey.keys()].filter((k) => k.startsWith(`${key}(`));
      const hint = overloads.length > 0 ? `; "${key}" is overloaded: use ${overloads.join(' or ')}` : ` (configured: ${[...byKey.keys()].join(', ')})`;
      throw new InvalidHandlersError(`handlers: "${key}" names no configured event${hint}`);
    }
    byTable.set(table.table, { key, handle });
  }
  return { setup: module.setup, byTable };
}
