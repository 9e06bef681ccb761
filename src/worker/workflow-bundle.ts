import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { BundleOptions, Logger, WorkflowBundle, WorkflowBundleOption } from '@temporalio/worker';

const run = promisify(execFile);
const require = createRequire(import.meta.url);

// Set by scripts/build.ts (esbuild `define`) in the compiled CLI; undefined when running from source.
declare const INDEXER_COMPILED: boolean | undefined;

/** True in the compiled CLI (`dist/`, built by `npm run build`); false when tsx runs the sources. */
export const COMPILED = typeof INDEXER_COMPILED !== 'undefined' && INDEXER_COMPILED;

/** The prebuilt workflow bundle's file name, next to the compiled CLI in `dist/`. */
export const WORKFLOW_BUNDLE_FILE = 'workflows.js';

/**
 * What goes into the workflow bundle, the same wherever it is built (npm run build, a worker
 * running from source, the tests): the workflows, and OpenTelemetry's workflow interceptors,
 * which must be inside the bundle (a prebuilt bundle ignores WorkerOptions.interceptors.workflowModules).
 * They are in it whether the worker traces or not: they issue commands at the same point either way,
 * but resolve an activity's promise a few microtasks later, so a bundle without them could order a
 * timer's and an activity's follow-up commands differently when both complete in one workflow task,
 * and fail to replay the histories of every indexer running today.
 */
export function workflowBundleOptions(workflowsPath: string): Pick<BundleOptions, 'workflowsPath' | 'workflowInterceptorModules'> {
  return {
    workflowsPath,
    workflowInterceptorModules: [require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')],
  };
}

/** bundleWorkflowCode's logger wherever we bundle in-process: webpack's progress stays quiet, its errors do not. */
export const quietBundlerLogger: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} };

const INLINE_SOURCE_MAP = '//# sourceMappingURL=data:';

/**
 * A bundle whose inline source map keeps its mappings but not the sources' text (`sourcesContent`,
 * two thirds of the bundle's bytes, OpenTelemetry's and the SDK's sources mostly). Stack traces
 * still name the original files and lines; the text itself is read only by the enhanced stack
 * trace query with `showStackTraceSources`, which our workers leave off. Each worker start reads,
 * decodes and parses the map on its main thread, then copies it to the workflow thread before
 * that thread can boot: about 0.1 s less of start-up on a small machine.
 */
export function withoutSourcesContent(code: string): string {
  const at = code.lastIndexOf(INLINE_SOURCE_MAP);
  const marker = at < 0 ? -1 : code.indexOf('base64,', at);
  if (marker < 0) throw new Error('the workflow bundle has no inline source map: it was not built by bundleWorkflowCode');
  const mapStart = marker + 'base64,'.length;
  const map = JSON.parse(Buffer.from(code.slice(mapStart).trimEnd(), 'base64').toString('utf8')) as { sourcesContent?: unknown };
  delete map.sourcesContent;
  return `${code.slice(0, mapStart)}${Buffer.from(JSON.stringify(map)).toString('base64')}\n`;
}

/**
 * The compiled CLI's prebuilt bundle (`bundleWorkflowCode` at build time, as temporalio/samples-typescript
 * `production/` does): no webpack at run time. Undefined when running from source.
 */
export function prebuiltWorkflowBundle(): WorkflowBundleOption | undefined {
  if (!COMPILED) return undefined;
  const codePath = fileURLToPath(new URL(`./${WORKFLOW_BUNDLE_FILE}`, import.meta.url));
  if (!existsSync(codePath)) throw new Error(`the prebuilt workflow bundle ${codePath} is missing: run npm run build`);
  return { codePath };
}

/**
 * Bundles the workflow code in a short-lived child process and loads the result. Webpack's
 * bundling costs a few hundred MB at its peak; done here, it never counts against the worker's
 * own memory, which stays at what indexing needs. Used when running from source.
 */
export async function bundleWorkflowsInChildProcess(workflowsPath: string): Promise<WorkflowBundle> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'indexer-bundle-'));
  const out = path.join(dir, 'workflows.js');
  const script = `
    import { bundleWorkflowCode } from '@temporalio/worker';
    import { writeFileSync } from 'node:fs';
    // quietBundlerLogger's twin: this script runs in another process, from text.
    const silent = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} };
    const { code } = await bundleWorkflowCode({ ...${JSON.stringify(workflowBundleOptions(workflowsPath))}, logger: silent });
    writeFileSync(${JSON.stringify(out)}, code);
  `;
  try {
    await run(process.execPath, ['--input-type=module', '-e', script], { cwd: path.dirname(workflowsPath), maxBuffer: 16 * 1024 * 1024 });
    return { code: withoutSourcesContent(readFileSync(out, 'utf8')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
