import { isSafeNumber, parse } from 'lossless-json';

/**
 * `json`/`jsonb` values keep every digit on their way to the client. PostgreSQL returns them as
 * text; JSON.parse would turn a number such as 123456789012345678901234567890 (a handler may write
 * a bigint into a jsonb column) into a double. Numbers a double holds exactly become numbers; any
 * other becomes an ExactJsonNumber, which serializes as a marker string that `exactJsonText`
 * replaces by the number's own digits once the whole response is a JSON text. The marker is
 * wrapped in NUL characters, which no PostgreSQL text or jsonb string can hold, so it never
 * matches data.
 */

const NUL = '\u0000';

export class ExactJsonNumber {
  constructor(readonly text: string) {}

  toJSON(): string {
    return `${NUL}${this.text}${NUL}`;
  }

  toString(): string {
    return this.text;
  }
}

/** A number a double may not hold (16 digits or more, or an exponent): only then is the slower exact parser needed. */
const LONG_NUMBER = /\d(?:\.?\d){15}|\d[eE][+-]?\d/;

/** Parses json/jsonb text as PostgreSQL sends it, keeping numbers a double cannot hold as ExactJsonNumber. */
export function parseExactJson(text: string): unknown {
  if (!LONG_NUMBER.test(text)) return JSON.parse(text);
  return parse(text, null, (value: string) => (isSafeNumber(value) ? Number(value) : new ExactJsonNumber(value)));
}

// In a JSON text the marker string reads "\u0000<number>\u0000".
const MARKER = /"\\u0000(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)\\u0000"/g;

/** A JSON text with every ExactJsonNumber marker replaced by the number's digits. */
export function exactJsonText(json: string): string {
  return json.includes('\\u0000') ? json.replace(MARKER, '$1') : json;
}

/** JSON.stringify, then the markers replaced: the text a client receives. */
export function stringifyExact(value: unknown): string {
  return exactJsonText(JSON.stringify(value));
}
