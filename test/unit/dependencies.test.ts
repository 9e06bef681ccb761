import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * The image installs with `npm install --omit=dev`: a package that src/ loads at run time but
 * that package.json lists under devDependencies (or not at all) crashes production while every
 * test passes (pg-copy-streams did). This test reads every file under src/ and fails on that.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SRC = path.join(ROOT, 'src');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
const BUILTINS = new Set(builtinModules);

/** Every place a file loads a package at run time: value imports and re-exports, import(), require(), require.resolve(). */
export function runtimeSpecifiers(text: string): string[] {
  const found: string[] = [];
  // Static imports and re-exports, except `import type` / `export type` (erased at build time).
  for (const m of text.matchAll(/^\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm)) found.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(m[1]!);
  for (const m of text.matchAll(/\brequire(?:\.resolve)?\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(m[1]!);
  return found;
}

/** `@scope/name/deep/path` → `@scope/name`; `name/sub` → `name`; relative paths and builtins → undefined. */
export function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return undefined;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  return BUILTINS.has(name) ? undefined : name;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mts|js|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

test('the scanner sees value, dynamic and require imports, and skips type-only ones', () => {
  const text = [
    "import { a } from 'alpha';",
    "import type { B } from 'beta';",
    "export { c } from '@scope/gamma/deep';",
    "export type { D } from 'delta';",
    "import 'side-effect';",
    "const e = await import('epsilon/sub');",
    "const f = require.resolve('zeta/package.json');",
    "import fs from 'node:fs';",
    "import { x } from './local';",
  ].join('\n');
  const packages = runtimeSpecifiers(text).map(packageOf).filter(Boolean);
  assert.deepEqual(packages, ['alpha', '@scope/gamma', 'side-effect', 'epsilon', 'zeta']);
});

test('every package src/ loads at run time is a runtime dependency (not a devDependency)', () => {
  const dependencies = new Set(Object.keys(pkg.dependencies ?? {}));
  const files = sourceFiles(SRC);
  assert.ok(files.length > 20, `found the sources (${files.length} files)`);
  const missing: string[] = [];
  const used = new Set<string>();
  for (const file of files) {
    for (const specifier of runtimeSpecifiers(readFileSync(file, 'utf8'))) {
      const name = packageOf(specifier);
      if (!name) continue;
      used.add(name);
      if (!dependencies.has(name)) {
        const where = pkg.devDependencies?.[name] ? 'a devDependency' : 'not in package.json';
        missing.push(`${path.relative(ROOT, file)} imports ${specifier}, which is ${where}`);
      }
    }
  }
  assert.deepEqual(missing, [], 'move these to "dependencies" (npm install --save-prod <pkg>)');
  // The scan must actually find the packages we know are used, or it proves nothing.
  for (const known of ['pg', 'pg-copy-streams', '@temporalio/worker', 'viem', 'zod']) assert.ok(used.has(known), `the scan found ${known}`);
});

test('test-only packages stay out of the runtime dependencies', () => {
  for (const devOnly of ['solc', 'typescript', 'esbuild']) assert.ok(!pkg.dependencies?.[devOnly], `${devOnly} is a devDependency`);
  for (const name of Object.keys(pkg.dependencies ?? {})) assert.ok(!name.startsWith('@types/'), `${name} is a devDependency`);
});
