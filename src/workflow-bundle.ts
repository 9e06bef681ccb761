import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { BundleOptions, WorkflowBundle, WorkflowBundleOption } from '@temporalio/worker';

const run = promisify(execFile);
const require = createRequire(import.meta.url);

// Set by scripts/build.ts (esbuild `define`) in the compiled CLI; undefined when running from source.
declare const INDEXER_COMPILED: boolean | undefined;

/** True in the compiled CLI (`dist/`, built by `npm run build`); false when tsx runs the sources. */
export const COMPILED = typeof INDEXER_COMPILED !== 'undefined' && INDEXER_COMPILED;

/** The prebuilt workflow bundles' file names, next to the compiled CLI in `dist/`: without and with tracing. */
export const WORKFLOW_BUNDLE_FILE = 'workflows.js';
export const TRACED_WORKFLOW_BUNDLE_FILE = 'workflows-traced.js';

/**
 * What goes into a workflow bundle, the same wherever it is built (npm run build, a worker running
 * from source, the tests): the workflows and, for a worker that traces, OpenTelemetry's workflow
 * interceptors (a prebuilt bundle ignores WorkerOptions.interceptors.workflowModules, so they must
 * be inside it). Without tracing they are left out, not merely idle: they would make and export a
 * span for every activity and query (over a sink, to the main thread), add a trace header to every
 * activity in the history, and nearly double the bundle each workflow thread loads (1.9 → 3.6 MB).
 * Either bundle replays the other's histories: the interceptors add no command, and with the SDK
 * flag every 1.24 history carries they add no yield either (test/e2e/tracing.test.ts replays both ways).
 */
export function workflowBundleOptions(workflowsPath: string, options: { traced: boolean }): Pick<BundleOptions, 'workflowsPath' | 'workflowInterceptorModules'> {
  return {
    workflowsPath,
    workflowInterceptorModules: options.traced ? [require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')] : [],
  };
}

/**
 * The compiled CLI's prebuilt bundle (`bundleWorkflowCode` at build time, as temporalio/samples-typescript
 * `production/` does): no webpack at run time. Undefined when running from source.
 */
export function prebuiltWorkflowBundle(options: { traced: boolean }): WorkflowBundleOption | undefined {
  if (!COMPILED) return undefined;
  const codePath = fileURLToPath(new URL(`./${options.traced ? TRACED_WORKFLOW_BUNDLE_FILE : WORKFLOW_BUNDLE_FILE}`, import.meta.url));
  if (!existsSync(codePath)) throw new Error(`the prebuilt workflow bundle ${codePath} is missing: run npm run build`);
  return { codePath };
}

/**
 * Bundles the workflow code in a short-lived child process and loads the result. Webpack's
 * bundling costs a few hundred MB at its peak; done here, it never counts against the worker's
 * own memory, which stays at what indexing needs. Used when running from source.
 */
export async function bundleWorkflowsInChildProcess(workflowsPath: string, options: { traced: boolean }): Promise<WorkflowBundle> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'indexer-bundle-'));
  const out = path.join(dir, 'workflows.js');
  const script = `
    import { bundleWorkflowCode } from '@temporalio/worker';
    import { writeFileSync } from 'node:fs';
    const silent = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} };
    const { code } = await bundleWorkflowCode({ ...${JSON.stringify(workflowBundleOptions(workflowsPath, options))}, logger: silent });
    writeFileSync(${JSON.stringify(out)}, code);
  `;
  try {
    await run(process.execPath, ['--input-type=module', '-e', script], { cwd: path.dirname(workflowsPath), maxBuffer: 16 * 1024 * 1024 });
    return { code: readFileSync(out, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
