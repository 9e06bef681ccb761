/** Names the indexer makes SQL identifiers of (schema, table and column names): lowercase, PostgreSQL's length. */
const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
export const MAX_IDENTIFIER_LENGTH = 63; // PostgreSQL's NAMEDATALEN - 1

export function isIdentifier(name: string): boolean {
  return IDENTIFIER.test(name) && name.length <= MAX_IDENTIFIER_LENGTH;
}

/** `tokenID` → `token_id`, `fromAddress` → `from_address`, `ERC20Token` → `erc20_token`, `_from` → `from`. */
export function snakeCase(name: string): string {
  return name
    .replace(/[^A-Za-z0-9_]/g, '_')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase()
    .replace(/_+/g, '_')
    .replace(/^_+|_+$/g, '');
}
