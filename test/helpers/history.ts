import { execFileSync } from 'node:child_process';
import type { Client } from '@temporalio/client';
import { findTemporalCli } from '../../src/dev/temporal-server';

/**
 * Workflow history as searchable text. Payloads (inputs, results, failure details) are bytes:
 * fetchHistory gives them base64-encoded (proto3 JSON) and a plain JSON.stringify would hide any
 * string inside them, so every payload is decoded as UTF-8 here (its base64 form is kept too).
 */
export function historyText(history: unknown): string {
  const decode = (v: unknown) => (typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v);
  return JSON.stringify(history, function (this: Record<string, unknown>, key, value: unknown) {
    const raw = this[key];
    if (raw instanceof Uint8Array) return Buffer.from(raw).toString('utf8');
    if (isPayload(raw)) {
      const metadata = Object.fromEntries(Object.entries(raw.metadata ?? {}).map(([k, v]) => [k, decode(v)]));
      return { metadata, data: decode(raw.data), encoded: typeof raw.data === 'string' ? raw.data : undefined };
    }
    return value;
  });
}

function isPayload(value: unknown): value is { metadata?: Record<string, unknown>; data?: unknown } {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return 'metadata' in v && (typeof v.data === 'string' || v.data instanceof Uint8Array || v.data === undefined) && Object.keys(v).every((k) => k === 'metadata' || k === 'data');
}

/** The full history of every workflow run the client's namespace knows (parents, children, continued runs). */
export async function allHistoriesText(client: Client): Promise<{ workflows: string[]; text: string }> {
  const workflows: string[] = [];
  const parts: string[] = [];
  for await (const wf of client.workflow.list()) {
    workflows.push(`${wf.workflowId}/${wf.runId}`);
    const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    parts.push(historyText(history));
  }
  return { workflows, text: parts.join('\n') };
}

/** A run's history as the Temporal CLI writes it: the proto3 JSON form that Worker.runReplayHistory reads back (the latest run without `runId`). */
export function historyJson(address: string, workflowId: string, runId?: string): Buffer {
  const run = runId ? ['--run-id', runId] : [];
  return execFileSync(findTemporalCli()!, ['workflow', 'show', '--address', address, '--workflow-id', workflowId, ...run, '--output', 'json'], { maxBuffer: 64 * 1024 * 1024 });
}
