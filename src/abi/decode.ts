import { AbiDecodeError } from '../errors';
import type { EventTable } from './layout';
import { MalformedLogError, followOffset, readerFor, type Cell, type HexSource, type Reader } from './readers';

export type CellValue = Cell | null;

interface IndexedArgument {
  column: number;
  /** Undefined for strings, bytes, arrays and tuples: the chain keeps only their hash, which is stored as is. */
  reader: Reader | undefined;
}

interface DataArgument {
  column: number;
  reader: Reader;
  /** Character index of the argument's head slot in the data hex (after `0x`). */
  head: number;
  label: string;
}

const LOWER_HEX = /^0x[0-9a-f]*$/;
const LOWER_WORD = /^0x[0-9a-f]{64}$/;

/** `hex` in lowercase, or undefined when it is not hex at all. Logs usually come lowercase: one test then. */
function lowerHex(hex: string, pattern: RegExp): string | undefined {
  if (pattern.test(hex)) return hex;
  const lower = typeof hex === 'string' ? hex.toLowerCase() : '';
  return pattern.test(lower) ? lower : undefined;
}

/**
 * Decodes one event's logs into column values. Built once per event: each argument's reader, its
 * place in the topics or in the data head, are worked out here, because backfills decode millions
 * of logs. Per log there is no hashing, no byte conversion of the data, and nothing built that
 * is not stored.
 */
export class EventDecoder {
  readonly table: EventTable;
  private readonly indexed: IndexedArgument[] = [];
  private readonly data: DataArgument[] = [];
  // Reused for every log: decoding is synchronous, so one source per decoder is enough.
  private readonly source: HexSource = { hex: '', end: 0, budget: 0 };
  private readonly topic: HexSource = { hex: '', end: 66, budget: 0 };

  constructor(table: EventTable) {
    this.table = table;
    let head = 2;
    table.columns.forEach((column, i) => {
      const name = column.param.name || `arg${column.index}`;
      if (column.param.indexed) {
        this.indexed.push({ column: i, reader: column.kind === 'topic' ? undefined : readerFor(column.param, name) });
      } else {
        const reader = readerFor(column.param, name);
        this.data.push({ column: i, reader, head, label: `${name} (${column.param.type})` });
        head += reader.headSize;
      }
    });
  }

  /** The argument cells of one log, in column order. Throws AbiDecodeError when the log does not fit the ABI. */
  decode(topics: readonly string[], data: string, where: () => string): CellValue[] {
    const { table } = this;
    if (topics.length !== this.indexed.length + 1) {
      throw new AbiDecodeError(
        `${where()} has ${topics.length - 1} indexed topics but ${table.contract}.${table.signature} declares ${this.indexed.length}; is the ABI for this address right?`,
      );
    }
    const cells: CellValue[] = new Array(table.columns.length);
    try {
      for (let i = 0; i < this.indexed.length; i++) {
        const arg = this.indexed[i]!;
        const topic = lowerHex(topics[i + 1]!, LOWER_WORD);
        if (topic === undefined) throw new MalformedLogError(`topic ${i + 1} is not a 32-byte hex word`);
        if (arg.reader === undefined) cells[arg.column] = topic;
        else {
          this.topic.hex = topic;
          cells[arg.column] = arg.reader.cell(this.topic, 2);
        }
      }
      if (this.data.length > 0) {
        const hex = lowerHex(data, LOWER_HEX);
        if (hex === undefined || hex.length % 2 !== 0) throw new MalformedLogError('the data is not hex bytes');
        const src = this.source;
        src.hex = hex;
        src.end = hex.length;
        // Bytes reachable through offsets, as viem bounds them: 32 times the data size.
        src.budget = hex.length * 16;
        for (const arg of this.data) {
          cells[arg.column] = arg.reader.cell(src, arg.reader.dynamic ? followOffset(src, arg.head, 2, arg.label) : arg.head);
        }
        // As viem: data for non-indexed arguments is at least one word (a lone short bytesN reads less).
        if (hex.length < 2 + 64) throw new MalformedLogError(`the data is ${(hex.length - 2) / 2} bytes, less than one 32-byte word`);
        src.hex = '';
      }
    } catch (error) {
      this.source.hex = '';
      // Anything else thrown here is as deterministic as a malformed log: retrying cannot help.
      const reason = error instanceof MalformedLogError ? error.message : `${(error as Error).name}: ${String((error as Error).message).split('\n')[0]}`;
      throw new AbiDecodeError(`${where()} does not decode as ${table.contract}.${table.signature}: ${reason}; is the ABI for this address right?`, { cause: error });
    }
    return cells;
  }
}
