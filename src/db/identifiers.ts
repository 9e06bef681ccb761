/**
 * SQL identifiers made from config and ABIs (schema, table and column names). Everything that
 * ends up as an identifier passes `assertIdentifier` and is always quoted with `quoteIdent`.
 */

import { MAX_IDENTIFIER_LENGTH, isIdentifier } from '../abi/naming';

export { MAX_IDENTIFIER_LENGTH, isIdentifier };

export function assertIdentifier(name: string): string {
  if (!isIdentifier(name)) throw new Error(`not a safe SQL identifier: ${JSON.stringify(name)}`);
  return name;
}

/** Double-quotes an identifier after validating it; the validation is what makes it safe. */
export function quoteIdent(name: string): string {
  return `"${assertIdentifier(name)}"`;
}

/** `"schema"."table"` */
export function qualified(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}
