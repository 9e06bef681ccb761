import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';

/**
 * Custom search attributes, so `indexer list` and the Web UI can filter indexers by name, chain
 * and mode. Pure definitions: workflow code imports them too. A server must have them registered
 * (`indexer dev` and the tests do it; on your own server: `temporal operator search-attribute create`).
 */
export const INDEXER_NAME = defineSearchAttributeKey('IndexerName', SearchAttributeType.KEYWORD);
export const INDEXER_CHAIN_ID = defineSearchAttributeKey('IndexerChainId', SearchAttributeType.INT);
export const INDEXER_MODE = defineSearchAttributeKey('IndexerMode', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTES = [
  { name: 'IndexerName', type: 'Keyword' },
  { name: 'IndexerChainId', type: 'Int' },
  { name: 'IndexerMode', type: 'Keyword' },
] as const;

/** `--search-attribute` arguments for `temporal server start-dev`. */
export function devServerSearchAttributeArgs(): string[] {
  return SEARCH_ATTRIBUTES.flatMap((a) => ['--search-attribute', `${a.name}=${a.type}`]);
}
