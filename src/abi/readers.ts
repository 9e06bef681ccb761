/**
 * Readers of ABI-encoded values straight from a log's hex text, compiled once per event argument
 * (https://docs.soliditylang.org/en/latest/abi-spec.html#formal-specification-of-the-encoding).
 *
 * Why not viem's decoder: backfills decode millions of logs, and viem converts the hex to bytes,
 * checksums every address (a keccak per address) and builds values we then turn back into text.
 * Here a value is sliced from the text it arrives in and becomes the cell PostgreSQL stores
 * (docs/tables.md, "Argument types"): integers as decimal strings, addresses and bytes as lowercase hex,
 * strings with NUL removed, arrays and tuples as JSON text.
 *
 * What is accepted, and what a value becomes, is exactly what viem's decoder did before, dirty
 * words included (a log from hand-written assembly): uintN and intN read the whole word (intN as a
 * 256-bit two's complement), an address is the word's last 20 bytes, a bytesN its first N bytes, a
 * bool must be 0 or 1, and integers of up to 48 bits must be safe integers. Stricter checks would
 * pause an indexer on a contract nobody can change, for values the chain really holds. One
 * difference is deliberate: data cut off inside the padding of its last word is refused, where viem
 * read a bytesN's N bytes and did not look further. test/unit/decode.test.ts holds both decoders to
 * the same accept, reject and cells on random and on broken logs, with that one exception.
 */

/** A log does not decode with its ABI; the message is the reason, one line. */
export class MalformedLogError extends Error {
  override name = 'MalformedLogError';
}

/** The hex text being read: `hex` is lowercase `0x…`, readable up to `end` (a character index). */
export interface HexSource {
  hex: string;
  end: number;
  /** Bytes left to read through offsets before the log counts as a decompression bomb. */
  budget: number;
}

export type Cell = string | boolean;

export interface Reader {
  /** True when the value sits in the tail and its head slot holds an offset. */
  readonly dynamic: boolean;
  /** Size of the head slot, in hex characters: 64 for dynamic values, the whole encoding for static ones. */
  readonly headSize: number;
  /** The stored cell of the value encoded at `pos` (a character index into the hex). */
  cell(src: HexSource, pos: number): Cell;
  /** The value as JSON text, for use inside an array or tuple. */
  json(src: HexSource, pos: number): string;
}

/** An ABI parameter as the readers need it: its type, and its name where it becomes a JSON key. */
export interface ComponentSpec {
  name?: string;
  type: string;
  components?: readonly ComponentSpec[];
}

const WORD = 64;
const ZEROS = '0'.repeat(WORD);
const EFS = 'f'.repeat(WORD);
const TWO_256 = 1n << 256n;
// Below 2^52 a word is exact as a double and prints faster than through BigInt.
const SMALL_DIGITS = 13;
const SMALL_ZEROS = ZEROS.slice(0, WORD - SMALL_DIGITS);
const SMALL_EFS = EFS.slice(0, WORD - SMALL_DIGITS);
const SMALL_RANGE = 2 ** (SMALL_DIGITS * 4);
// Offsets and lengths are read as 48-bit numbers: exact, and far beyond any log.
const SIZE_DIGITS = 12;
const SIZE_ZEROS = ZEROS.slice(0, WORD - SIZE_DIGITS);

function fail(message: string): never {
  throw new MalformedLogError(message);
}

function need(src: HexSource, pos: number, chars: number, label: string): void {
  if (pos + chars > src.end) fail(`${label} needs bytes ${(pos - 2) / 2}..${(pos - 2 + chars) / 2 - 1} but the data is ${(src.end - 2) / 2} bytes`);
}

/** An offset or a length: a word that must fit in 48 bits, so that positions stay exact numbers. */
function readSize(src: HexSource, pos: number, label: string, what: string): number {
  need(src, pos, WORD, `the ${what} of ${label}`);
  if (!src.hex.startsWith(SIZE_ZEROS, pos)) fail(`the ${what} of ${label} is 0x${src.hex.slice(pos, pos + WORD).replace(/^0+/, '')}, beyond any data`);
  return parseInt(src.hex.slice(pos + WORD - SIZE_DIGITS, pos + WORD), 16);
}

/** Where the tail of a dynamic value starts: its head slot at `at` holds an offset from `base`. */
export function followOffset(src: HexSource, at: number, base: number, label: string): number {
  const target = base + readSize(src, at, label, 'offset') * 2;
  if (target > src.end) fail(`the offset of ${label} points to byte ${(target - 2) / 2}, past the ${(src.end - 2) / 2}-byte data`);
  return target;
}

/** Counts bytes read through offsets: well-formed data reads each byte once, overlapping offsets can read them over and over. */
function charge(src: HexSource, bytes: number, label: string): void {
  src.budget -= bytes;
  if (src.budget < 0) fail(`${label} reads more than 32 times the data size through overlapping offsets`);
}

function decimal(hex: string, pos: number): string {
  if (hex.startsWith(SMALL_ZEROS, pos)) return String(parseInt(hex.slice(pos + WORD - SMALL_DIGITS, pos + WORD), 16));
  return BigInt(`0x${hex.slice(pos, pos + WORD)}`).toString();
}

/** viem reads integers of up to 48 bits as JS numbers, and refuses a (dirty) word beyond a safe integer. */
function checkSmall(bits: number, value: string, label: string): string {
  if (bits <= 48 && !Number.isSafeInteger(Number(value))) fail(`${label} is ${value}, beyond a safe integer for a ${bits}-bit type`);
  return value;
}

function uintReader(bits: number, label: string): Reader {
  const cell = (src: HexSource, pos: number): string => {
    need(src, pos, WORD, label);
    return checkSmall(bits, decimal(src.hex, pos), label);
  };
  return { dynamic: false, headSize: WORD, cell, json: (src, pos) => `"${cell(src, pos)}"` };
}

function intReader(bits: number, label: string): Reader {
  // The word's first character carries the sign bit (a clean intN is sign-extended to 256 bits).
  const cell = (src: HexSource, pos: number): string => {
    need(src, pos, WORD, label);
    const hex = src.hex;
    if (hex.charCodeAt(pos) < 0x38) return checkSmall(bits, decimal(hex, pos), label); // '0'..'7': not negative
    if (hex.startsWith(SMALL_EFS, pos) && hex.charCodeAt(pos + WORD - SMALL_DIGITS) >= 0x38) {
      return String(parseInt(hex.slice(pos + WORD - SMALL_DIGITS, pos + WORD), 16) - SMALL_RANGE);
    }
    return checkSmall(bits, (BigInt(`0x${hex.slice(pos, pos + WORD)}`) - TWO_256).toString(), label);
  };
  return { dynamic: false, headSize: WORD, cell, json: (src, pos) => `"${cell(src, pos)}"` };
}

function addressReader(label: string): Reader {
  const cell = (src: HexSource, pos: number): string => {
    need(src, pos, WORD, label);
    return `0x${src.hex.slice(pos + 24, pos + WORD)}`;
  };
  return { dynamic: false, headSize: WORD, cell, json: (src, pos) => `"${cell(src, pos)}"` };
}

function boolReader(label: string): Reader {
  const prefix = ZEROS.slice(0, WORD - 1);
  const cell = (src: HexSource, pos: number): boolean => {
    need(src, pos, WORD, label);
    const last = src.hex.charCodeAt(pos + WORD - 1);
    if (!src.hex.startsWith(prefix, pos) || (last !== 0x30 && last !== 0x31)) fail(`${label} is neither 0 nor 1`);
    return last === 0x31;
  };
  return { dynamic: false, headSize: WORD, cell, json: (src, pos) => (cell(src, pos) ? 'true' : 'false') };
}

function fixedBytesReader(size: number, label: string): Reader {
  const chars = size * 2;
  const cell = (src: HexSource, pos: number): string => {
    need(src, pos, WORD, label);
    return `0x${src.hex.slice(pos, pos + chars)}`;
  };
  return { dynamic: false, headSize: WORD, cell, json: (src, pos) => `"${cell(src, pos)}"` };
}

/** `bytes` and `string` tails: a length word, then the content. Returns the content's character range. */
function content(src: HexSource, pos: number, label: string): number {
  const length = readSize(src, pos, label, 'length');
  need(src, pos + WORD, length * 2, label);
  charge(src, WORD / 2 + length, label);
  return length * 2;
}

function bytesReader(label: string): Reader {
  const cell = (src: HexSource, pos: number): string => `0x${src.hex.slice(pos + WORD, pos + WORD + content(src, pos, label))}`;
  return { dynamic: true, headSize: WORD, cell, json: (src, pos) => `"${cell(src, pos)}"` };
}

// viem decodes strings with TextDecoder: invalid UTF-8 becomes U+FFFD and a leading byte order mark
// is dropped. Buffer's UTF-8 decoder replaces the same way (the differential test holds it to that);
// the BOM is skipped here by hand.
const BOM = 'efbbbf';

function stringReader(label: string): Reader {
  const cell = (src: HexSource, pos: number): string => {
    const chars = content(src, pos, label);
    let from = pos + WORD;
    const to = from + chars;
    if (chars >= BOM.length && src.hex.startsWith(BOM, from)) from += BOM.length;
    if (from === to) return '';
    const text = Buffer.from(src.hex.slice(from, to), 'hex').toString('utf8');
    // PostgreSQL text cannot hold NUL characters (docs/tables.md, "Strings").
    return text.includes('\u0000') ? text.replace(/\u0000/g, '') : text;
  };
  return { dynamic: true, headSize: WORD, cell, json: (src, pos) => JSON.stringify(cell(src, pos)) };
}

/** `T[]` and `T[k]`: JSON arrays. */
function arrayReader(element: Reader, length: number | undefined, label: string): Reader {
  const dynamic = length === undefined || element.dynamic;
  const step = element.headSize;
  const json = (src: HexSource, pos: number): string => {
    let count = length ?? 0;
    let base = pos;
    if (length === undefined) {
      count = readSize(src, pos, label, 'length');
      base = pos + WORD;
    }
    if (dynamic) {
      // Checked before the loop, so a huge length in a short log fails at once.
      need(src, base, count * step, label);
      charge(src, (count * step) / 2, label);
    }
    let out = '[';
    for (let i = 0; i < count; i++) {
      const at = base + i * step;
      if (i > 0) out += ',';
      out += element.json(src, element.dynamic ? followOffset(src, at, base, label) : at);
    }
    return `${out}]`;
  };
  return { dynamic, headSize: dynamic ? WORD : (length ?? 0) * step, cell: json, json };
}

/**
 * Tuples: JSON objects keyed by component name, or by position ("0", "1" …) where unnamed. The keys
 * come out in the order and with the overwrites a JavaScript object gives them (integer-like keys
 * first, a repeated name keeps its first place and its last value), which is what the rows held
 * before this reader existed; PostgreSQL's jsonb does not keep key order, but equal text is easier
 * to trust.
 */
function tupleReader(components: readonly Reader[], keys: readonly string[], label: string): Reader {
  const dynamic = components.some((c) => c.dynamic);
  const heads: number[] = [];
  let headSize = 0;
  for (const c of components) {
    heads.push(headSize);
    headSize += c.headSize;
  }
  const order: Record<string, number> = {};
  keys.forEach((key, i) => (order[key] = i));
  const output = Object.keys(order).map((key) => ({ prefix: `${JSON.stringify(key)}:`, index: order[key]! }));
  const inOrder = output.length === components.length && output.every((o, i) => o.index === i);

  const json = (src: HexSource, pos: number): string => {
    if (dynamic) charge(src, headSize / 2, label);
    if (inOrder) {
      let out = '{';
      for (let i = 0; i < components.length; i++) {
        const c = components[i]!;
        const at = pos + heads[i]!;
        out += `${i > 0 ? ',' : ''}${output[i]!.prefix}${c.json(src, c.dynamic ? followOffset(src, at, pos, label) : at)}`;
      }
      return `${out}}`;
    }
    // Every component is decoded (and so checked), even one whose key a later one overwrites.
    const values = components.map((c, i) => {
      const at = pos + heads[i]!;
      return c.json(src, c.dynamic ? followOffset(src, at, pos, label) : at);
    });
    return `{${output.map((o) => o.prefix + values[o.index]).join(',')}}`;
  };
  return { dynamic, headSize: dynamic ? WORD : headSize, cell: json, json };
}

/**
 * The reader of one ABI type (canonical spelling, as validated by event-abi.ts). `label` names the
 * value in error messages, e.g. `outer.inner.c (bytes)`.
 */
export function readerFor(param: ComponentSpec, path: string): Reader {
  const type = param.type;
  const label = `${path} (${type})`;
  const array = /^(.*)\[(\d*)\]$/.exec(type);
  if (array) {
    const element = readerFor({ ...param, type: array[1]! }, `${path}[]`);
    const length = array[2] ? Number(array[2]) : undefined;
    // A zero-size element would let a huge length loop without reading anything (event-abi.ts refuses these).
    if (length === 0) throw new Error(`cannot decode zero-length array type "${type}"`);
    return arrayReader(element, length, label);
  }
  if (type === 'tuple') {
    const components = param.components ?? [];
    return tupleReader(
      components.map((c, i) => readerFor(c, `${path}.${c.name || i}`)),
      components.map((c, i) => c.name || String(i)),
      label,
    );
  }
  const integer = /^(u?)int(\d*)$/.exec(type);
  if (integer) {
    const bits = integer[2] ? Number(integer[2]) : 256;
    return integer[1] ? uintReader(bits, label) : intReader(bits, label);
  }
  if (type === 'address') return addressReader(label);
  if (type === 'bool') return boolReader(label);
  if (type === 'string') return stringReader(label);
  if (type === 'bytes') return bytesReader(label);
  const fixed = /^bytes(\d+)$/.exec(type);
  if (fixed) return fixedBytesReader(Number(fixed[1]), label);
  throw new Error(`cannot decode ABI type "${type}"`);
}
