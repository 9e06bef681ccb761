/**
 * `npm run build`: the compiled CLI and worker in dist/, so production runs JavaScript with no
 * TypeScript loader, and a prebuilt workflow bundle, so workers start without webpack.
 *
 *   dist/indexer.js        the CLI (src/client.ts), one ES module plus lazily loaded chunks, one per
 *                          command; node_modules stay external (installed with npm install --omit=dev)
 *   dist/workflows.js      bundleWorkflowCode's output (its source map without the sources' text),
 *                          loaded with workflowBundle: { codePath }
 *   dist/demo-handlers.mjs the demo's handlers module (indexer dev), a plain file loaded by path
 *   dist/build-info.json   written last: bin/indexer.mjs runs dist/ only when this is newer than src/
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';
import { build } from 'esbuild';
import { WORKFLOW_BUNDLE_FILE, quietBundlerLogger, withoutSourcesContent, workflowBundleOptions } from '../src/worker/workflow-bundle';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');
const started = Date.now();

rmSync(DIST, { recursive: true, force: true });
mkdirSync(DIST, { recursive: true });

await build({
  absWorkingDir: ROOT,
  entryPoints: { indexer: 'src/client.ts' },
  outdir: DIST,
  bundle: true,
  // Code splitting keeps each command's imports behind its dynamic import(): `indexer status`
  // loads the Temporal client, not the worker, viem or embedded PostgreSQL.
  splitting: true,
  chunkNames: 'chunk-[hash]',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Every package stays external except viem's own code: its root module loads hundreds of
  // modules (half a second of a worker's start-up) for the few functions we use, so those are
  // bundled, tree-shaken. ws stays external (optional native add-ons).
  external: externalPackages(),
  sourcemap: true,
  define: { INDEXER_COMPILED: 'true' },
  logLevel: 'warning',
});

/** The runtime dependencies' import specifiers esbuild leaves to node: all but viem and its own dependencies. */
function externalPackages(): string[] {
  const dependenciesOf = (file: string) => Object.keys((JSON.parse(readFileSync(file, 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {});
  const notBundled = new Set(['ws', 'isows']);
  const bundled = new Set(['viem', ...dependenciesOf(path.join(ROOT, 'node_modules', 'viem', 'package.json'))].filter((name) => !notBundled.has(name)));
  return [...dependenciesOf(path.join(ROOT, 'package.json')).filter((name) => !bundled.has(name)), ...notBundled].flatMap((name) => [name, `${name}/*`]);
}

const { code } = await bundleWorkflowCode({ ...workflowBundleOptions(path.join(ROOT, 'src', 'workflows', 'index.ts')), logger: quietBundlerLogger });
writeFileSync(path.join(DIST, WORKFLOW_BUNDLE_FILE), withoutSourcesContent(code));

copyFileSync(path.join(ROOT, 'src', 'dev', 'demo-handlers.mjs'), path.join(DIST, 'demo-handlers.mjs'));

writeFileSync(path.join(DIST, 'build-info.json'), `${JSON.stringify({ builtAt: new Date().toISOString(), node: process.version }, null, 2)}\n`);
console.log(`built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s`);
