import pg from 'pg';
import { LosslessNumber, isInteger, isSafeNumber, parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';

/**
 * Database values as handlers see them, and handlers' values as the database gets them, exact both
 * ways (docs/handlers.md, "Exact values"). node-pg's defaults round in three places, each
 * replaced here for what handlers read (`db.query` results and the store's rows):
 * - json and jsonb go through JSON.parse, which turns every number into a double: 10^30 comes back
 *   as 1e+30. Here an integer beyond 2^53 comes back as a bigint, another number a double cannot
 *   hold digit for digit as an ExactNumber (lossless-json's LosslessNumber: toString() is exact),
 *   every other number as a number.
 * - numeric[] is parsed as an array of doubles: here decimal strings, as numeric itself is.
 * - timestamp, timestamptz and date become a Date, which holds milliseconds (PostgreSQL keeps
 *   microseconds): here PostgreSQL's own text, e.g. "2026-12-07 21:43:08.123456+00".
 * int8 and numeric are already strings (the store gives integers as bigint).
 */

const OID = {
  json: 114,
  jsonb: 3802,
  jsonArray: 199,
  jsonbArray: 3807,
  numericArray: 1231,
  date: 1082,
  timestamp: 1114,
  timestamptz: 1184,
  dateArray: 1182,
  timestampArray: 1115,
  timestamptzArray: 1185,
} as const;

/**
 * A JSON number a double cannot hold digit for digit, and that is no integer: its text is kept.
 * JSON.stringify refuses it (as it refuses a bigint), so `toDatabaseJson` writes it back exactly.
 */
export class ExactNumber extends LosslessNumber {
  toJSON(): never {
    throw new TypeError(`${this.value} ${EXACT_ONLY}`);
  }
}

const EXACT_ONLY = "is written exactly by the indexer's own JSON writer only";

/** A JSON number: a number where a double holds it exactly, else a bigint (integers) or an ExactNumber. */
function jsonNumber(text: string): unknown {
  if (isSafeNumber(text)) return Number(text);
  return isInteger(text) ? BigInt(text) : new ExactNumber(text);
}

/** Sixteen digits in a row: the shortest run that can spell a number a double cannot hold. Without one, JSON.parse is exact (and much faster). */
const LONG_DIGITS = /\d{16}/;

/** JSON text from the database, every number exact. */
export function parseDatabaseJson(text: string): unknown {
  // A json column may repeat a key: the last one wins, as in JSON.parse and jsonb.
  return LONG_DIGITS.test(text) ? parseLossless(text, null, { parseNumber: jsonNumber, onDuplicateKey: ({ newValue }) => newValue }) : JSON.parse(text);
}

/** JSON text for the database: bigints and ExactNumbers as JSON numbers, digit for digit. */
export function toDatabaseJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    // A bigint or an ExactNumber goes through the lossless writer (slower, so only then); any
    // other failure (a circular object) is the caller's.
    if (!(error instanceof TypeError) || !(/BigInt/.test(error.message) || error.message.includes(EXACT_ONLY))) throw error;
    return stringifyLossless(value) ?? 'null';
  }
}

const asText = (value: string) => value;
/** text[]'s parser: an array (of arrays) of the elements' text, NULL as null. */
const textArray = pg.types.getTypeParser(1009 as never) as (value: string) => unknown; // 1009: text[]
const jsonArray = (value: string) => mapElements(textArray(value), (item) => parseDatabaseJson(item));

function mapElements(array: unknown, map: (item: string) => unknown): unknown {
  return Array.isArray(array) ? array.map((item) => mapElements(item, map)) : array === null ? null : map(array as string);
}

const parsers = new Map<number, (value: string) => unknown>([
  [OID.json, parseDatabaseJson],
  [OID.jsonb, parseDatabaseJson],
  [OID.jsonArray, jsonArray],
  [OID.jsonbArray, jsonArray],
  [OID.numericArray, textArray],
  [OID.date, asText],
  [OID.timestamp, asText],
  [OID.timestamptz, asText],
  [OID.dateArray, textArray],
  [OID.timestampArray, textArray],
  [OID.timestamptzArray, textArray],
]);

/** node-pg's type parsers for what handlers read: its defaults, but for the types above. */
export const HANDLER_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => (format === 'binary' ? pg.types.getTypeParser(oid, 'binary') : (parsers.get(oid) ?? pg.types.getTypeParser(oid)))) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * A handler's `db.query` values as node-pg sends them. node-pg writes an object parameter with
 * JSON.stringify, which throws on a bigint inside it; such objects (and those in arrays) are
 * written here with bigints as JSON numbers, and -0 keeps its sign. Everything else is left to
 * node-pg.
 */
export function databaseParameters(values: unknown[] | undefined): unknown[] | undefined {
  if (!values) return values;
  let out: unknown[] | undefined;
  for (let i = 0; i < values.length; i++) {
    const prepared = parameter(values[i]);
    if (prepared !== values[i]) {
      out ??= [...values];
      out[i] = prepared;
    }
  }
  return out ?? values;
}

function parameter(value: unknown): unknown {
  // node-pg writes -0 as "0": float8 keeps the sign when given its text.
  if (value === 0 && Object.is(value, -0)) return '-0';
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value) || value instanceof Date) return value;
  if (value instanceof LosslessNumber) return value.toString();
  if (Array.isArray(value)) {
    const items = value.map(parameter);
    return items.some((item, i) => item !== value[i]) ? items : value;
  }
  if (typeof (value as { toPostgres?: unknown }).toPostgres === 'function') return value;
  return toDatabaseJson(value);
}
