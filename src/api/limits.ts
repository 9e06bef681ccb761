import {
  GraphQLError,
  Kind,
  TypeInfo,
  getNamedType,
  visit,
  visitWithTypeInfo,
  type ASTVisitor,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'postgraphile/graphql';

/**
 * What one request may ask (docs/api.md, "Limits"): pages of at most MAX_PAGE rows (DEFAULT_PAGE
 * when a connection names neither `first` nor `last`), selections at most MAX_DEPTH fields deep.
 * Each breach is a GraphQL error that names it, before any SQL runs.
 */
export const MAX_PAGE = 1000;
export const DEFAULT_PAGE = 100;
export const MAX_DEPTH = 10;

const PAGE_ARGUMENTS = new Set(['first', 'last']);

function pageError(name: string, value: number, node: FieldNode | undefined): GraphQLError {
  return new GraphQLError(`${name}: ${value} is over the page size limit: a page holds at most ${MAX_PAGE} rows (use ${name}: ${MAX_PAGE} and the cursors to read on)`, {
    nodes: node ? [node] : undefined,
    extensions: { code: 'PAGE_SIZE_LIMIT', limit: MAX_PAGE },
  });
}

/** `first`/`last` written into the query as numbers over the limit. */
export function pageSizeRule(context: ValidationContext): ASTVisitor {
  return {
    Field(node) {
      for (const argument of node.arguments ?? []) {
        if (!PAGE_ARGUMENTS.has(argument.name.value) || argument.value.kind !== Kind.INT) continue;
        const value = Number(argument.value.value);
        if (value > MAX_PAGE) context.reportError(pageError(argument.name.value, value, node));
      }
    },
  };
}

/** Where a document passes `first`/`last` as a variable: found once per document, checked per request. */
export interface PageVariable {
  argument: string;
  variable: string;
  /** The variable's default in its operation, when it has a number there. */
  fallback?: number;
  node: FieldNode;
}

export function pageSizeVariables(document: DocumentNode): PageVariable[] {
  const found: PageVariable[] = [];
  let defaults = new Map<string, number>();
  visit(document, {
    OperationDefinition(node) {
      defaults = new Map();
      for (const definition of node.variableDefinitions ?? []) {
        if (definition.defaultValue?.kind === Kind.INT) defaults.set(definition.variable.name.value, Number(definition.defaultValue.value));
      }
    },
    Field(node) {
      for (const argument of node.arguments ?? []) {
        if (!PAGE_ARGUMENTS.has(argument.name.value) || argument.value.kind !== Kind.VARIABLE) continue;
        const variable = argument.value.name.value;
        found.push({ argument: argument.name.value, variable, fallback: defaults.get(variable), node });
      }
    },
  });
  return found;
}

/** `first`/`last` given as variables whose values are over the limit. */
export function pageSizeVariableErrors(pageVariables: readonly PageVariable[], variables: Record<string, unknown> | null | undefined): GraphQLError[] {
  const errors: GraphQLError[] = [];
  for (const { argument, variable, fallback, node } of pageVariables) {
    const value = variables?.[variable] ?? fallback;
    if (typeof value === 'number' && value > MAX_PAGE) errors.push(pageError(argument, value, node));
  }
  return errors;
}

/**
 * Introspection (`__schema`, `__type`) is deep by nature (the IDE's own query nests `ofType` nine
 * times, 15 levels in all) and does not count towards MAX_DEPTH; it has limits of its own: at most
 * MAX_INTROSPECTION_DEPTH levels, and at most MAX_INTROSPECTION_LISTS nested lists (types → fields →
 * args is three), so `fields { type { fields { type { … } } } }` cannot multiply without bound.
 */
export const MAX_INTROSPECTION_DEPTH = 20;
export const MAX_INTROSPECTION_LISTS = 4;
const INTROSPECTION_LISTS = new Set(['types', 'fields', 'inputFields', 'interfaces', 'possibleTypes', 'enumValues', 'args', 'directives']);

interface Depths {
  /** Nested fields, introspection left out. */
  depth: number;
  /** Nested fields inside `__schema`/`__type`, and nested lists among them. */
  introspection: number;
  lists: number;
}

const NONE: Depths = { depth: 0, introspection: 0, lists: 0 };
const deeper = (a: Depths, b: Depths): Depths => ({ depth: Math.max(a.depth, b.depth), introspection: Math.max(a.introspection, b.introspection), lists: Math.max(a.lists, b.lists) });

/** Selections deeper than MAX_DEPTH fields, and introspection beyond its own limits. */
export function depthRule(context: ValidationContext): ASTVisitor {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of context.getDocument().definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  // A fragment's depths do not depend on where it is spread, within introspection or not:
  // computed once each (a document that spreads fragments into each other many times stays linear).
  const fragmentDepths = new Map<string, Depths>();
  const walk = (selectionSet: SelectionSetNode | undefined, inIntrospection: boolean, visiting: Set<string>): Depths => {
    if (!selectionSet) return NONE;
    let result = NONE;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        const introspection = inIntrospection || name === '__schema' || name === '__type';
        const below = walk(selection.selectionSet, introspection, visiting);
        const here: Depths = introspection
          ? { depth: 0, introspection: 1 + below.introspection, lists: below.lists + (inIntrospection && INTROSPECTION_LISTS.has(name) ? 1 : 0) }
          : name.startsWith('__')
            ? NONE
            : { depth: 1 + below.depth, introspection: below.introspection, lists: below.lists };
        result = deeper(result, here);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        result = deeper(result, walk(selection.selectionSet, inIntrospection, visiting));
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (!fragment || visiting.has(name)) continue; // unknown or cyclic: other rules report it
        const key = `${inIntrospection}:${name}`;
        let depths = fragmentDepths.get(key);
        if (depths === undefined) {
          visiting.add(name);
          depths = walk(fragment.selectionSet, inIntrospection, visiting);
          visiting.delete(name);
          fragmentDepths.set(key, depths);
        }
        result = deeper(result, depths);
      }
    }
    return result;
  };
  return {
    OperationDefinition(node: OperationDefinitionNode) {
      const { depth, introspection, lists } = walk(node.selectionSet, false, new Set());
      const name = node.name ? ` ${node.name.value}` : '';
      if (depth > MAX_DEPTH) {
        context.reportError(
          new GraphQLError(`${node.operation}${name} is ${depth} fields deep, over the depth limit: at most ${MAX_DEPTH} levels of nested fields are allowed`, {
            nodes: [node],
            extensions: { code: 'DEPTH_LIMIT', limit: MAX_DEPTH, depth },
          }),
        );
      }
      if (introspection > MAX_INTROSPECTION_DEPTH || lists > MAX_INTROSPECTION_LISTS) {
        context.reportError(
          new GraphQLError(
            `${node.operation}${name} introspects ${introspection} levels deep with ${lists} nested lists: at most ${MAX_INTROSPECTION_DEPTH} levels and ${MAX_INTROSPECTION_LISTS} nested lists (types, fields, args …) are allowed`,
            { nodes: [node], extensions: { code: 'DEPTH_LIMIT', limit: MAX_INTROSPECTION_DEPTH, depth: introspection } },
          ),
        );
      }
    },
  };
}

export const LIMIT_RULES: readonly ValidationRule[] = [pageSizeRule, depthRule];

/**
 * The document with `first: DEFAULT_PAGE` added to every field that takes `first` and was given
 * neither `first` nor `last` (the tables' connections): no request reads a whole table by default.
 */
export function withDefaultPageSize(schema: GraphQLSchema, document: DocumentNode): DocumentNode {
  const typeInfo = new TypeInfo(schema);
  return visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        const field = typeInfo.getFieldDef();
        if (!field || !field.args.some((a) => a.name === 'first')) return undefined;
        if ((node.arguments ?? []).some((a) => PAGE_ARGUMENTS.has(a.name.value))) return undefined;
        if (!getNamedType(field.type).name.endsWith('Connection')) return undefined;
        return {
          ...node,
          arguments: [...(node.arguments ?? []), { kind: Kind.ARGUMENT, name: { kind: Kind.NAME, value: 'first' }, value: { kind: Kind.INT, value: String(DEFAULT_PAGE) } }],
        };
      },
    }),
  );
}
