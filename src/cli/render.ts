import { STAGES } from '../stages';
import type { IndexerStatus } from '../workflows/messages';

/** Share of the way from startBlock to the target (endBlock, else the safe head), 0..1. */
export function progressOf(s: IndexerStatus): number | null {
  const target = s.endBlock ?? s.safeHead;
  if (target === null || target < s.startBlock) return null;
  const total = target - s.startBlock + 1;
  return Math.min(1, Math.max(0, (s.checkpoint - s.startBlock + 1) / total));
}

function formatEta(s: IndexerStatus): string {
  const target = s.endBlock ?? s.safeHead;
  if (target === null || s.blocksPerSecond <= 0 || s.checkpoint >= target) return '';
  const seconds = Math.round((target - s.checkpoint) / s.blocksPerSecond);
  if (seconds < 90) return ` eta ${seconds}s`;
  if (seconds < 5400) return ` eta ${Math.round(seconds / 60)}m`;
  return ` eta ${(seconds / 3600).toFixed(1)}h`;
}

export function bar(fraction: number, width = 24): string {
  const filled = Math.round(fraction * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** A few lines per indexer × chain for a person watching. */
export function renderStatus(s: IndexerStatus): string[] {
  const progress = progressOf(s);
  const lines = [
    `${s.name} · chain ${s.chainId} · ${s.mode}${s.paused ? ' (paused)' : ''}`,
    `  checkpoint ${s.checkpoint} / head ${s.head ?? '?'} (safe ${s.safeHead ?? '?'}, lag ${s.lag ?? '?'})`,
  ];
  if (progress !== null && s.mode !== 'realtime') lines.push(`  ${bar(progress)} ${(progress * 100).toFixed(1)}%${formatEta(s)}`);
  lines.push(`  ${s.blocksPerSecond} blocks/s · ${s.logsPerSecond} logs/s · ${s.logsIndexed} logs indexed · ${s.reorgs} reorgs`);
  for (const stage of stageStatuses(s)) lines.push(...stage.render.lines(stage.status));
  const v = s.lastVerification;
  if (v) lines.push(`  last verification ${v.at}: ${v.mismatches} mismatches, ${v.repaired} repaired${v.added || v.removed || v.changed ? ` (events ${v.added ?? 0} added, ${v.removed ?? 0} removed, ${v.changed ?? 0} changed)` : ''}`);
  lines.push(...renderEndpoints(s.rpc));
  if (s.lastError) lines.push(`  last error: ${s.lastError}`);
  return lines;
}

/** One line per endpoint when there are several or one is in trouble: lag, omissions, rotation, breaker. */
export function renderEndpoints(rpc: IndexerStatus['rpc']): string[] {
  const notes = (e: IndexerStatus['rpc'][number]) =>
    [
      e.lag ? `${e.lag} blocks behind` : '',
      e.omissions ? `${e.omissions} omission${e.omissions === 1 ? '' : 's'} caught${e.demoted ? ', demoted' : ''}` : '',
      e.outOfRotation ? `out of rotation: ${e.outOfRotation}` : '',
      e.state !== 'closed' ? `breaker ${e.state}` : '',
    ].filter(Boolean);
  if (rpc.length < 2 && !rpc.some((e) => notes(e).length > 0)) return [];
  return rpc.map((e) => {
    const extra = notes(e);
    return `  rpc ${e.label}: head ${e.head ?? '?'} · ${e.requests} requests${extra.length > 0 ? ` · ${extra.join(' · ')}` : ''}`;
  });
}

/** One line per indexer, for logs and non-terminal output. */
export function statusLine(s: IndexerStatus): string {
  const progress = progressOf(s);
  return [
    `${s.name}:${s.chainId}`,
    `mode=${s.paused ? 'paused' : s.mode}`,
    `checkpoint=${s.checkpoint}`,
    `head=${s.head ?? '?'}`,
    progress === null ? '' : `progress=${(progress * 100).toFixed(1)}%`,
    `blocks/s=${s.blocksPerSecond}`,
    `logs/s=${s.logsPerSecond}`,
    `logs=${s.logsIndexed}`,
    s.lastError ? `lastError=${JSON.stringify(s.lastError)}` : '',
    ...stageStatuses(s).flatMap((stage) => stage.render.fields(stage.status)),
  ]
    .filter(Boolean)
    .join(' ');
}

/** The configured stages' status objects, each with how to show it. */
function stageStatuses(s: IndexerStatus): Array<{ render: { lines(status: object): string[]; fields(status: object): string[] }; status: object }> {
  return STAGES.flatMap((stage) => {
    const status = s[stage.name];
    return status ? [{ render: stage.render as { lines(status: object): string[]; fields(status: object): string[] }, status }] : [];
  });
}
