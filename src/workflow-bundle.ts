import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { WorkflowBundle } from '@temporalio/worker';

const run = promisify(execFile);

/**
 * Bundles the workflow code in a short-lived child process and loads the result. Webpack's
 * bundling costs a few hundred MB at its peak; done here, it never counts against the worker's
 * own memory, which stays at what indexing needs.
 */
export async function bundleWorkflowsInChildProcess(workflowsPath: string): Promise<WorkflowBundle> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'indexer-bundle-'));
  const out = path.join(dir, 'workflows.js');
  const script = `
    import { bundleWorkflowCode } from '@temporalio/worker';
    import { writeFileSync } from 'node:fs';
    const silent = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} };
    const { code } = await bundleWorkflowCode({ workflowsPath: ${JSON.stringify(workflowsPath)}, logger: silent });
    writeFileSync(${JSON.stringify(out)}, code);
  `;
  try {
    await run(process.execPath, ['--input-type=module', '-e', script], { cwd: path.dirname(workflowsPath), maxBuffer: 16 * 1024 * 1024 });
    return { code: readFileSync(out, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
