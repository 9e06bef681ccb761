/**
 * The decoder the indexer used before src/abi/readers.ts: viem's decodeAbiParameters per log, then
 * each value turned into its cell. Kept verbatim as the reference that the differential test
 * (test/unit/decode.test.ts) and bench/decode.ts compare the new decoder with.
 */
import { decodeAbiParameters, type AbiParameter, type Hex } from 'viem';
import { AbiDecodeError } from '../../src/errors';
import type { ArgColumn, EventTable } from '../../src/abi/layout';

type CellValue = string | boolean | null;

/** PostgreSQL text cannot hold NUL characters (DESIGN.md, "Strings"). */
export function stripNul(s: string): string {
  return s.includes('\u0000') ? s.replace(/\u0000/g, '') : s;
}

/**
 * The value bound as a query parameter for one decoded argument. Integers travel as decimal strings
 * (numeric(78,0) holds every uint256/int256), hex as lowercase text, composites as JSON text.
 */
export function columnValue(column: ArgColumn, value: unknown): string | boolean | null {
  if (value === undefined || value === null) return null;
  switch (column.kind) {
    case 'int':
      return String(value as bigint | number);
    case 'bool':
      return Boolean(value);
    case 'string':
      return stripNul(String(value));
    case 'address':
    case 'bytes':
    case 'topic':
      return String(value).toLowerCase();
    case 'json':
      return JSON.stringify(jsonValue(column.param, value));
  }
}

/**
 * JSON form of an array or tuple: tuples as objects keyed by component name (positional "0", "1" …
 * where unnamed), integers as decimal strings, addresses and bytes as lowercase hex.
 */
export function jsonValue(param: AbiParameter, value: unknown): unknown {
  const element = /^(.*)\[\d*\]$/.exec(param.type)?.[1];
  if (element !== undefined) {
    const items = value as readonly unknown[];
    return items.map((item) => jsonValue({ ...param, type: element, name: undefined } as AbiParameter, item));
  }
  if (param.type === 'tuple') {
    const components = 'components' in param ? param.components : [];
    const out: Record<string, unknown> = {};
    components.forEach((component, i) => {
      const key = component.name ? component.name : String(i);
      const raw = Array.isArray(value) ? value[i] : (value as Record<string, unknown>)[component.name || String(i)];
      out[key] = jsonValue(component, raw);
    });
    return out;
  }
  if (/^u?int\d*$/.test(param.type)) return String(value as bigint);
  if (param.type === 'bool') return Boolean(value);
  if (param.type === 'string') return stripNul(String(value));
  return String(value).toLowerCase(); // address, bytes, bytesN
}

export class ViemEventDecoder {
  readonly table: EventTable;
  private readonly indexed: Array<{ column: number; param: AbiParameter; hashed: boolean }> = [];
  private readonly dataParams: AbiParameter[] = [];
  private readonly dataColumns: number[] = [];

  constructor(table: EventTable) {
    this.table = table;
    table.columns.forEach((column, i) => {
      if (column.param.indexed) this.indexed.push({ column: i, param: column.param, hashed: column.kind === 'topic' });
      else {
        this.dataParams.push(column.param as AbiParameter);
        this.dataColumns.push(i);
      }
    });
  }

  /** The argument cells of one log, in column order. Throws AbiDecodeError when the log does not fit the ABI. */
  decode(topics: readonly string[], data: string, where: () => string): CellValue[] {
    const cells: CellValue[] = new Array(this.table.columns.length);
    if (topics.length !== this.indexed.length + 1) {
      throw new AbiDecodeError(
        `${where()} has ${topics.length - 1} indexed topics but ${this.table.contract}.${this.table.signature} declares ${this.indexed.length}; is the ABI for this address right?`,
      );
    }
    try {
      this.indexed.forEach((arg, i) => {
        const topic = topics[i + 1] as Hex;
        const column = this.table.columns[arg.column]!;
        // Indexed strings, bytes, arrays and tuples are stored by the chain only as their keccak hash.
        const value = arg.hashed ? topic : decodeAbiParameters([arg.param as AbiParameter], topic)[0];
        cells[arg.column] = columnValue(column, value);
      });
      if (this.dataParams.length > 0) {
        const values = decodeAbiParameters(this.dataParams, data as Hex);
        this.dataColumns.forEach((columnIndex, i) => {
          cells[columnIndex] = columnValue(this.table.columns[columnIndex]!, values[i]);
        });
      }
    } catch (error) {
      if (error instanceof AbiDecodeError) throw error;
      const reason = ((error as { shortMessage?: string }).shortMessage ?? (error as Error).message).split('\n')[0];
      throw new AbiDecodeError(`${where()} does not decode as ${this.table.contract}.${this.table.signature}: ${reason}; is the ABI for this address right?`);
    }
    return cells;
  }
}
