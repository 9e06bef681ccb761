/**
 * Each endpoint's own head, and what the chain's head is when endpoints disagree. Endpoints lag
 * (a node still syncing, a load balancer in front of nodes at different heights), so one endpoint
 * below the checkpoint proves nothing about the chain: only the highest head counts, and "the
 * chain got shorter" only when every endpoint says so.
 */

export interface EndpointHeadReport {
  /** Index of the endpoint among the chain's endpoints. */
  index: number;
  label: string;
  /** Its head, when it answered, and that block's hash when its latest header was asked. */
  head?: number;
  hash?: string;
  /** Why it did not answer (unreachable, breaker open, out of rotation). */
  error?: string;
  /** Endpoint.rank(): lower is better. */
  rank: number;
}

export interface HeadProbe {
  /** The chain's head: the highest head among the endpoints that answered. */
  head: number;
  /** The tip endpoint: best-ranked among those at the highest head. */
  tip: number;
  tipLabel: string;
  /** The hash of the head block as the tip endpoint has it (when headers were asked). */
  tipHash?: string;
  endpoints: EndpointHeadReport[];
  /** Every endpoint of the chain answered (none unreachable or out of rotation). */
  allAnswered: boolean;
}

/** The probe's verdict from the endpoints' answers; undefined when none answered. */
export function summarizeHeads(reports: EndpointHeadReport[]): HeadProbe | undefined {
  const answered = reports.filter((r) => r.head !== undefined);
  if (answered.length === 0) return undefined;
  const head = Math.max(...answered.map((r) => r.head!));
  const tip = answered.filter((r) => r.head === head).sort((a, b) => a.rank - b.rank || a.index - b.index)[0]!;
  return { head, tip: tip.index, tipLabel: tip.label, tipHash: tip.hash, endpoints: reports, allAnswered: answered.length === reports.length };
}

export type TipVerdict =
  | { kind: 'ahead' }
  | { kind: 'same' }
  /** Every endpoint answered and all are below the checkpoint, by no more than maxReorgDepth: the chain really got shorter. */
  | { kind: 'shorter' }
  /**
   * The reachable endpoints are behind the checkpoint but some could not be asked, or all are more
   * than maxReorgDepth behind it: wait, never roll back.
   */
  | { kind: 'wait'; message: string };

/** How far a rollback decided on one view of the chain may reach, and for which indexer (its messages name it). */
export interface RollbackReach {
  maxReorgDepth: number;
  indexer: string;
}

export function tipVerdict(probe: HeadProbe, checkpoint: number, reach: RollbackReach): TipVerdict {
  if (probe.head > checkpoint) return { kind: 'ahead' };
  if (probe.head === checkpoint) return { kind: 'same' };
  if (!probe.allAnswered) {
    return { kind: 'wait', message: `every reachable endpoint is behind the checkpoint ${checkpoint} (${describeHeads(probe.endpoints)}); waiting` };
  }
  // Rolling back to this head would delete more than a reorg may, on one view of the chain (a node
  // caught mid-reorg or resyncing): wait. A chain that comes back above the checkpoint on another
  // fork is then a reorg found there, too deep, and pauses the indexer.
  const below = checkpoint - probe.head;
  if (below > reach.maxReorgDepth) {
    return {
      kind: 'wait',
      message: `every endpoint's head (${probe.head}) is ${below} blocks below the checkpoint ${checkpoint}, more than maxReorgDepth (${reach.maxReorgDepth}): waiting for the chain to come back; if it really is that much shorter, run indexer reset ${reach.indexer} --to-block <a block before the fork>`,
    };
  }
  return { kind: 'shorter' };
}

/** `a: head 120, b: unreachable (…)` for messages. */
export function describeHeads(reports: readonly EndpointHeadReport[]): string {
  return reports.map((r) => `${r.label}: ${r.head !== undefined ? `head ${r.head}` : `unreachable${r.error ? ` (${r.error})` : ''}`}`).join(', ');
}

export interface RoutableEndpoint {
  index: number;
  /** Last known head; undefined before the first answer. */
  head?: number;
  inRotation: boolean;
  rank: number;
}

/**
 * Endpoints that may be asked about `block`, best first: in rotation, and with a known head at or
 * above it. A known head is a lower bound for a healthy node, so a stale one errs on the safe side.
 */
export function endpointsWithBlock(endpoints: readonly RoutableEndpoint[], block: number | undefined): number[] {
  return endpoints
    .filter((e) => e.inRotation && (block === undefined || (e.head !== undefined && e.head >= block)))
    .sort((a, b) => a.rank - b.rank || a.index - b.index)
    .map((e) => e.index);
}
