import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');
const ALLOWED_PACKAGES = new Set(['@temporalio/workflow', '@temporalio/common']);

/** Value (non-type) imports of a file: `import type` is erased at build time and harmless. With `dynamic: false`, static ones only. */
function valueImports(file: string, options: { dynamic?: boolean } = {}): string[] {
  const text = readFileSync(file, 'utf8');
  const imports: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm)) imports.push(m[1]!);
  if (options.dynamic !== false) for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) imports.push(m[1]!);
  return imports;
}

function resolveLocal(from: string, spec: string): string {
  const base = path.resolve(path.dirname(from), spec);
  for (const candidate of [base, `${base}.ts`, path.join(base, 'index.ts')]) {
    try {
      readFileSync(candidate);
      return candidate;
    } catch {
      // try the next form
    }
  }
  throw new Error(`cannot resolve ${spec} from ${from}`);
}

// Workflow code is replayed deterministically in a sandbox: it may not reach I/O, Node modules,
// database or RPC clients, loggers, or the activity/worker/client SDKs, directly or through a helper.
test('src/workflows imports nothing with side effects, directly or transitively', () => {
  const seen = new Set<string>();
  const queue = [path.join(SRC, 'workflows', 'index.ts')];
  const offenders: string[] = [];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of valueImports(file)) {
      if (spec.startsWith('.')) queue.push(resolveLocal(file, spec));
      else if (!ALLOWED_PACKAGES.has(spec)) offenders.push(`${path.relative(SRC, file)} imports ${spec}`);
    }
  }
  assert.ok(seen.size >= 3, 'the walk found the workflow modules');
  assert.deepEqual(offenders, []);
});

// The worker starts faster when the activity host (pg, NATS, the activity code) loads while
// Worker.create boots the workflow thread (worker.ts): that needs worker.ts not to load it statically.
test('src/worker.ts loads the activity host, pg and NATS only through import()', () => {
  const seen = new Set<string>();
  const queue = [path.join(SRC, 'worker.ts')];
  const packages = new Set<string>();
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of valueImports(file, { dynamic: false })) {
      if (spec.startsWith('.')) queue.push(resolveLocal(file, spec));
      else packages.add(spec);
    }
  }
  assert.ok(packages.has('@temporalio/worker'), 'the walk followed the static imports');
  const loadedEarly = [...seen].map((f) => path.relative(SRC, f)).filter((f) => f === 'worker/activity-host.ts' || f === 'activities/index.ts');
  assert.deepEqual(loadedEarly, []);
  assert.deepEqual([...packages].filter((p) => p === 'pg' || p.startsWith('@nats-io/')), []);
});

/**
 * The folders of src/ in layers, top first (docs/design.md, "Where the code lives"): a module may
 * import (statically, as a value) only from its own folder or a layer below. Type-only imports
 * are erased at build time and may point anywhere (the workflow names its activities' types).
 * Names on one layer do not import each other.
 */
const LAYERS: string[][] = [
  ['client.ts'],
  ['cli'],
  ['worker.ts'],
  ['worker'],
  ['api'],
  ['dev'],
  ['activities'],
  ['workflows'],
  ['config'],
  ['stages'],
  ['workflows/support', 'db'],
  ['indexing', 'rpc'],
  ['abi'],
  ['spec.ts', 'logger.ts', 'redact.ts', 'tracing.ts', 'search-attributes.ts', 'user-module.ts'],
  ['env.ts'],
  ['errors.ts'],
];

/** The layer entry a file of src/ belongs to: its top folder (workflows/support apart), or itself at the top of src/. */
function unitOf(file: string): string {
  const parts = path.relative(SRC, file).split(path.sep);
  if (parts.length === 1) return parts[0]!;
  return parts[0] === 'workflows' && parts[1] === 'support' ? 'workflows/support' : parts[0]!;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : /\.(ts|mjs)$/.test(e.name) ? [path.join(dir, e.name)] : []));
}

test('src/ folders import only from their own folder or a layer below; every file is on a layer', () => {
  const rank = new Map(LAYERS.flatMap((units, i) => units.map((u) => [u, i] as const)));
  const offenders: string[] = [];
  const files = sourceFiles(SRC);
  for (const file of files) {
    const from = unitOf(file);
    if (!rank.has(from)) offenders.push(`${path.relative(SRC, file)} is on no layer`);
    for (const spec of valueImports(file, { dynamic: false })) {
      if (!spec.startsWith('.')) continue;
      const to = unitOf(resolveLocal(file, spec));
      if (to !== from && !(rank.get(to)! > rank.get(from)!)) offenders.push(`${path.relative(SRC, file)} (${from}) imports ${spec} (${to})`);
    }
  }
  assert.ok(files.length > 100, 'the walk found the sources');
  assert.deepEqual(offenders, []);
});

test('production code never loads src/dev/ statically: only `indexer dev` does (an opt-in loads it with import())', () => {
  const offenders = sourceFiles(SRC)
    .filter((file) => unitOf(file) !== 'dev' && path.relative(SRC, file) !== path.join('cli', 'dev-command.ts'))
    .flatMap((file) => valueImports(file, { dynamic: false }).filter((spec) => spec.startsWith('.') && unitOf(resolveLocal(file, spec)) === 'dev').map((spec) => `${path.relative(SRC, file)} imports ${spec}`));
  assert.deepEqual(offenders, []);
});
