import { readdirSync, readFileSync } from 'node:fs';

/**
 * Where a measurement's CPU went, per process group, read from /proc: on a machine whose cores
 * anvil, PostgreSQL, the Temporal server and the pipeline share, a pipeline's speed is what the
 * others leave it, so its CPU seconds explain a ratio that its wall time alone does not.
 */
export type CpuGroup = 'worker' | 'bench' | 'postgres' | 'anvil' | 'temporal';

/** CPU seconds per process group over a measurement. */
export type CpuSeconds = Partial<Record<CpuGroup, number>>;

/** Clock ticks per second in /proc/<pid>/stat (USER_HZ, 100 on every Linux build in use). */
const TICKS_PER_SECOND = 100;

/** CPU ticks (user + system) of every process of a group, by pid. */
export type CpuSnapshot = Map<number, { group: CpuGroup; ticks: number }>;

/** The processes of every group now (`workerPid` is the worker's); undefined without /proc (not Linux). */
export function cpuSnapshot(workerPid?: number): CpuSnapshot | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  const snapshot: CpuSnapshot = new Map();
  for (const name of pids) {
    const pid = Number(name);
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone since the listing
    }
    // The command name sits in parentheses and may itself hold spaces; the fields follow the last ')'.
    const commEnd = stat.lastIndexOf(')');
    const group = groupOf(pid, stat.slice(stat.indexOf('(') + 1, commEnd), workerPid);
    if (!group) continue;
    const fields = stat.slice(commEnd + 2).split(' ');
    snapshot.set(pid, { group, ticks: Number(fields[11]) + Number(fields[12]) });
  }
  return snapshot;
}

function groupOf(pid: number, comm: string, workerPid: number | undefined): CpuGroup | undefined {
  if (pid === workerPid) return 'worker';
  if (pid === process.pid) return 'bench';
  if (comm.startsWith('postgres')) return 'postgres';
  if (comm === 'anvil') return 'anvil';
  if (comm === 'temporal') return 'temporal';
  return undefined;
}

/**
 * CPU seconds per group between two snapshots. Per process, so that one which started in between
 * counts whole and one which ended does not subtract; one which ended in between is not counted
 * (the pools here keep their connections, so PostgreSQL's backends live through a measurement).
 */
export function cpuSpent(before: CpuSnapshot | undefined, after: CpuSnapshot | undefined): CpuSeconds | undefined {
  if (!before || !after) return undefined;
  const spent: CpuSeconds = {};
  for (const [pid, { group, ticks }] of after) {
    const delta = ticks - (before.get(pid)?.ticks ?? 0);
    spent[group] = (spent[group] ?? 0) + delta / TICKS_PER_SECOND;
  }
  for (const group of Object.keys(spent) as CpuGroup[]) spent[group] = Math.round(spent[group]! * 10) / 10;
  return spent;
}

const LABELS: Record<CpuGroup, string> = { worker: 'worker', bench: 'bench process', postgres: 'PostgreSQL', anvil: 'anvil', temporal: 'Temporal server' };

/** "CPU s: worker 12.5, PostgreSQL 4.4, …", biggest first; empty without figures or with none of 0.1 s. */
export function describeCpu(spent: CpuSeconds | undefined): string {
  const parts = (Object.entries(spent ?? {}) as Array<[CpuGroup, number]>).filter(([, s]) => s >= 0.1).sort((a, b) => b[1] - a[1]);
  if (parts.length === 0) return '';
  return `CPU s: ${parts.map(([group, s]) => `${LABELS[group]} ${s.toFixed(1)}`).join(', ')}`;
}
