import { decodeAbiParameters, type AbiParameter, type Hex } from 'viem';
import { AbiDecodeError } from '../errors';
import { columnValue } from './encode';
import type { EventTable } from './layout';
import type { AbiEventParameter } from './event-abi';

type CellValue = string | boolean | null;

/**
 * Decodes one event's logs into column values. Built once per event: the split of indexed and
 * data arguments is worked out here, not per log, because backfills decode millions of logs.
 */
export class EventDecoder {
  readonly table: EventTable;
  private readonly indexed: Array<{ column: number; param: AbiEventParameter; hashed: boolean }> = [];
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
