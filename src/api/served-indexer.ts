import './polyfill';
import type pg from 'pg';
import { getGrafastMiddleware, type GrafastSubscriber } from 'postgraphile/grafast';
import {
  GraphQLError,
  Source,
  getOperationAST,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ValidationRule,
} from 'postgraphile/graphql';
import type { Logger } from '../logger';
import type { Redactor } from '../redact';
import { schemaFingerprint } from './catalog';
import { buildIndexerSchema } from './graphql-schema';
import { LIMIT_RULES, pageSizeVariables, withDefaultPageSize, type PageVariable } from './limits';
import { CHECKPOINT_COLUMNS_SQL, checkpointColumns, type CheckpointColumns } from './meta';
import type { CheckpointEvent } from './notifications';

/**
 * One indexer served by the API: its GraphQL schema (built from the database, and built again
 * when the tables change: `refresh`, called on a timer and after its notifications), and the
 * documents its clients sent, parsed and validated once each (the 500 most recent).
 */

const RULES: readonly ValidationRule[] = [...specifiedRules, ...LIMIT_RULES];
const CACHE_SIZE = 500;

export type Prepared = { document: DocumentNode; operation: OperationDefinitionNode; pageVariables: readonly PageVariable[] } | { errors: GraphQLError[] };

export interface SchemaVersion {
  schema: GraphQLSchema;
  resolvedPreset: GraphileConfig.ResolvedPreset;
  middleware: ReturnType<typeof getGrafastMiddleware>;
  columns: CheckpointColumns;
  fingerprint: string;
  /** Example query for the IDE: the indexer's first table. */
  exampleQuery: string;
  prepare: (query: string, operationName?: string | null) => Prepared;
}

function tagged(error: GraphQLError, code: string): GraphQLError {
  return new GraphQLError(error.message, { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path, originalError: error.originalError, extensions: { ...error.extensions, code: error.extensions?.code ?? code } });
}

function makePrepare(schema: GraphQLSchema): SchemaVersion['prepare'] {
  type Entry = { document?: DocumentNode; pageVariables?: PageVariable[]; errors?: GraphQLError[] };
  const cache = new Map<string, Entry>();
  const parsed = (query: string): Entry => {
    const hit = cache.get(query);
    if (hit) {
      cache.delete(query);
      cache.set(query, hit);
      return hit;
    }
    let entry: Entry;
    try {
      const document = parse(new Source(query, 'GraphQL request'), { maxTokens: 50_000 });
      const errors = validate(schema, document, RULES, { maxErrors: 20 });
      entry = errors.length > 0 ? { errors: errors.map((e) => tagged(e, 'GRAPHQL_VALIDATION_FAILED')) } : { document: withDefaultPageSize(schema, document), pageVariables: pageSizeVariables(document) };
    } catch (error) {
      entry = { errors: [tagged(error instanceof GraphQLError ? error : new GraphQLError(String((error as Error)?.message ?? error)), 'GRAPHQL_PARSE_FAILED')] };
    }
    cache.set(query, entry);
    if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value as string);
    return entry;
  };
  return (query, operationName) => {
    const entry = parsed(query);
    if (entry.errors) return { errors: entry.errors };
    const operation = getOperationAST(entry.document!, operationName ?? undefined);
    if (!operation) {
      return {
        errors: [
          new GraphQLError(operationName ? `no operation named "${operationName}" in the document` : 'the document holds several operations: name the one to run in operationName', {
            extensions: { code: 'BAD_REQUEST' },
          }),
        ],
      };
    }
    if (operation.operation === 'mutation') {
      return { errors: [new GraphQLError('this API is read-only: it has no mutations', { nodes: [operation], extensions: { code: 'READ_ONLY' } })] };
    }
    return { document: entry.document!, operation, pageVariables: entry.pageVariables! };
  };
}

/** A query for the IDE to open with: the first table's first rows, and `_meta`. */
function exampleQueryOf(schema: GraphQLSchema): string {
  const fields = schema.getQueryType()?.getFields() ?? {};
  const connection = Object.values(fields).find((f) => f.name !== 'query' && /Connection$/.test(String(f.type).replace(/!$/, '')));
  const meta = '  _meta {\n    chainId\n    checkpoint\n    handlersCheckpoint\n    head\n    mode\n  }\n';
  if (!connection) return `{\n${meta}}\n`;
  const nodeType = schema.getType(String(connection.type).replace(/!$/, '').replace(/Connection$/, ''));
  const columns = nodeType && 'getFields' in nodeType ? Object.keys(nodeType.getFields()).slice(0, 6) : [];
  const order = columns.includes('blockNumber') ? ', orderBy: [BLOCK_NUMBER_DESC, LOG_INDEX_DESC]' : '';
  return `{\n  ${connection.name}(first: 10${order}) {\n    totalCount\n    nodes {\n${columns.map((c) => `      ${c}\n`).join('')}    }\n  }\n${meta}}\n`;
}

export class ServedIndexer {
  /** The schema requests use now; undefined until the first build (or while the indexer has no tables). */
  current: SchemaVersion | undefined;
  /** Why the last build failed, when it did. */
  lastError: string | undefined;
  private refreshing: Promise<void> | undefined;
  private again = false;

  constructor(
    readonly name: string,
    private readonly deps: {
      pool: pg.Pool;
      logger: Logger;
      redactor: Redactor;
      subscriber: GrafastSubscriber<Record<string, CheckpointEvent>>;
      onBuilt?: (indexer: ServedIndexer) => void;
    },
  ) {}

  get subscriber(): GrafastSubscriber<Record<string, CheckpointEvent>> {
    return this.deps.subscriber;
  }

  /** Looks at the database's tables and builds the schema again if they changed (one at a time; a call meanwhile runs once more after). */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.again = false;
        await this.refreshOnce();
      } while (this.again);
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async refreshOnce(): Promise<void> {
    try {
      const fingerprint = await schemaFingerprint(this.deps.pool, this.name);
      if (fingerprint === null) return; // not (yet) an indexer's schema: keep what we had
      if (this.current?.fingerprint === fingerprint) {
        this.lastError = undefined;
        return;
      }
      const started = Date.now();
      const { rows } = await this.deps.pool.query<{ attname: string }>(CHECKPOINT_COLUMNS_SQL, [this.name]);
      const columns = checkpointColumns(rows.map((r) => r.attname));
      const { schema, resolvedPreset } = await buildIndexerSchema(this.deps.pool, this.name, columns);
      this.current = {
        schema,
        resolvedPreset,
        middleware: getGrafastMiddleware(resolvedPreset),
        columns,
        fingerprint,
        exampleQuery: exampleQueryOf(schema),
        prepare: makePrepare(schema),
      };
      this.lastError = undefined;
      this.deps.logger.info({ indexer: this.name, ms: Date.now() - started }, 'GraphQL schema built from the database');
      this.deps.onBuilt?.(this);
    } catch (error) {
      const message = this.deps.redactor.redact(String((error as Error)?.message ?? error));
      // Once per distinct failure: PostgreSQL away fails every look until it is back.
      if (message !== this.lastError) this.deps.logger.warn({ indexer: this.name, err: message }, 'could not read or build the GraphQL schema; serving the previous one, if any');
      this.lastError = message;
    }
  }
}
