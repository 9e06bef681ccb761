import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import { oneLine } from '../errors';
import type { Redactor } from '../redact';
import { checkLatest, checkQuantity, type RawBlock } from './answers';
import type { CrossCheckMode } from './cross-check';
import type { Endpoint } from './endpoint';
import { describeHeads, endpointsWithBlock, summarizeHeads, type EndpointHeadReport, type HeadProbe } from './heads';
import { RETRY_HERE, everyEndpointFailed, rpcDecision, rpcFailure, type EndpointFailure } from './policy';

/** What the chain's RPC did to keep endpoints honest, for metrics. */
export interface RpcCheckStats {
  /** eth_getLogs ranges answered by two endpoints and compared. */
  crossChecked: number;
  /** Ranges that crossCheck wanted compared but no second endpoint had the blocks (or answered). */
  crossCheckSkipped: number;
  /**
   * eth_getLogs requests sent again (one span of blocks each) because a header's logsBloom admitted
   * a configured address and topic0 that the answer held no log of.
   */
  bloomRechecks: number;
  /** Blocks whose logsBloom admitted such a pair that, asked again (or of two endpoints), really held no log of it. */
  bloomFalsePositives: number;
}

/** What every view of one chain's RPC shares: the endpoints and their state. */
export interface Shared {
  endpoints: Endpoint[];
  redactor: Redactor;
  crossCheck?: CrossCheckMode;
  bloomRetryDelaysMs: number[];
  /** The head probe in flight, shared by every caller (one of each kind). */
  probing: { numbers?: Promise<HeadProbe>; headers?: Promise<HeadProbe> };
  stats: RpcCheckStats;
}

/** How one view routes its requests, and what it noticed (for the activity's result). */
export interface View {
  /** Every request to this endpoint only (one endpoint's view of the tip). */
  pin?: number;
  /** Ask the best-ranked endpoint last (verification reads from another than the one ingesting). */
  avoidBest?: boolean;
  crossCheck?: CrossCheckMode;
  notices: string[];
}

/** The policy's quick retries (RETRY_HERE) of what it says to retry. */
const RETRY = retry(
  handleWhen((error) => rpcDecision(error).retry),
  { maxAttempts: RETRY_HERE.retries, backoff: new ExponentialBackoff({ initialDelay: RETRY_HERE.initialDelayMs, maxDelay: RETRY_HERE.maxDelayMs }) },
);

/**
 * Which endpoint one view of a chain asks, and what happens when it fails: every request goes
 * through `request` (one failover loop, single calls and batches alike), and what a failure means
 * is the policy's. Endpoints are asked in order of rank among those known to have the block a
 * request is about; each one's head is tracked (probeHeads, refreshHeadsFor) so that a lagging one
 * is never asked about a block above it.
 */
export class Router {
  constructor(
    readonly chainId: number,
    readonly shared: Shared,
    readonly view: View,
  ) {}

  endpoint(index: number): Endpoint {
    return this.shared.endpoints[index]!;
  }

  note(text: string): void {
    if (!this.view.notices.includes(text)) this.view.notices.push(text);
  }

  /**
   * One request, tried again briefly where the policy says so: the endpoints that have block `needs`
   * (any, when undefined; or only those of `list`), best first, until one answers.
   */
  request<T>(method: string, needs: number | undefined, ask: (endpoint: Endpoint) => Promise<T>, list?: readonly number[]): Promise<{ result: T; source: number }> {
    return RETRY.execute(async () => this.failover(method, list ?? (await this.candidates(needs)), ask));
  }

  /** Asks the listed endpoints in order until one answers; a failure the policy does not fail over ends it at once. */
  private async failover<T>(method: string, list: readonly number[], ask: (endpoint: Endpoint) => Promise<T>): Promise<{ result: T; source: number }> {
    const failures: EndpointFailure[] = [];
    for (const index of list) {
      const endpoint = this.endpoint(index);
      try {
        return { result: await ask(endpoint), source: index };
      } catch (error) {
        if (!rpcDecision(error).failOver) throw error;
        failures.push({ label: endpoint.label, error });
      }
    }
    throw everyEndpointFailed(method, failures);
  }

  /** Endpoints that have `block` (any, when undefined), best first, ignoring this view's pin. */
  endpointsHaving(block: number | undefined): number[] {
    const now = Date.now();
    return endpointsWithBlock(
      this.shared.endpoints.map((e, index) => ({ index, head: e.head, inRotation: e.inRotation, rank: e.rank(now) })),
      block,
    );
  }

  /** Endpoints this view may ask about `block`, best first. */
  private route(block: number | undefined): number[] {
    const all = this.endpointsHaving(block);
    if (this.view.pin !== undefined) return all.filter((i) => i === this.view.pin);
    if (this.view.avoidBest && all.length > 1) return [...all.slice(1), all[0]!];
    return all;
  }

  /**
   * Asks an endpoint for its head in the background (one ask at a time) when a request needs a
   * block it is not known to have: a lagging endpoint rejoins as soon as it catches up (asked at
   * most once a second), and one whose head is unknown (never reached) is asked until it answers
   * or its breaker opens, as any request to it would.
   */
  private refreshHeadsFor(block: number | undefined): void {
    const now = Date.now();
    for (const endpoint of this.shared.endpoints) {
      if (!endpoint.inRotation || endpoint.state === 'open' || endpoint.headAsk) continue;
      if (endpoint.head !== undefined && (block === undefined || endpoint.head >= block || endpoint.headAskedAt > now - 1_000)) continue;
      endpoint.headAskedAt = now;
      endpoint.headAsk = endpoint
        .call<string>('eth_blockNumber', [], checkQuantity)
        .then(
          () => undefined,
          () => undefined,
        )
        .finally(() => {
          endpoint.headAsk = undefined;
        });
    }
  }

  /** Like route(), but asks every endpoint for its head once when none is known to have the block. */
  async candidates(block: number | undefined): Promise<number[]> {
    this.refreshHeadsFor(block);
    let list = this.route(block);
    if (list.length === 0 && block !== undefined) {
      await this.probeHeads().catch(() => undefined);
      list = this.route(block);
    }
    if (list.length === 0) {
      const what =
        this.view.pin !== undefined
          ? `${this.endpoint(this.view.pin).label} does not have block ${block ?? 'latest'} (any more)`
          : block !== undefined
            ? `no endpoint has block ${block} yet`
            : 'no endpoint is in rotation';
      throw rpcFailure('no-endpoint', `${what} (${this.describeEndpoints()}); waiting`);
    }
    return list;
  }

  private describeEndpoints(): string {
    return this.shared.endpoints
      .map((e) => {
        const h = e.health;
        if (h.outOfRotation) return `${e.label}: out of rotation (${h.outOfRotation})`;
        return `${e.label}: ${h.head === null ? 'head unknown' : `head ${h.head}`}${h.state === 'closed' ? '' : `, breaker ${h.state}`}`;
      })
      .join(', ');
  }

  /**
   * Every endpoint's head, asked in parallel (so it costs one round trip, not one per endpoint).
   * The chain's head is the highest; the tip endpoint the best-ranked one there. Endpoints out of
   * rotation are asked too once their wait is over: a right answer brings them back.
   */
  probeHeads(options: { hashes?: boolean } = {}): Promise<HeadProbe> {
    // With `hashes`, each endpoint is asked for its latest header instead of its block number: the
    // tip's hash comes with it (the realtime poll needs it to see a reorg at the same height).
    const kind = options.hashes ? 'headers' : 'numbers';
    this.shared.probing[kind] ??= this.probeOnce(kind === 'headers').finally(() => {
      this.shared.probing[kind] = undefined;
    });
    return this.shared.probing[kind];
  }

  private async probeOnce(hashes: boolean): Promise<HeadProbe> {
    const now = Date.now();
    const reports = await Promise.all(
      this.shared.endpoints.map(async (endpoint, index): Promise<EndpointHeadReport> => {
        const base = { index, label: endpoint.label };
        if (!endpoint.inRotation && !endpoint.dueForRotationCheck(now)) return { ...base, rank: endpoint.rank(), error: `out of rotation: ${endpoint.health.outOfRotation}` };
        try {
          if (hashes) {
            const latest = (await endpoint.call<RawBlock>('eth_getBlockByNumber', ['latest', false], checkLatest))!;
            return { ...base, rank: endpoint.rank(), head: Number(BigInt(latest.number!)), hash: latest.hash!.toLowerCase() };
          }
          const hex = await endpoint.call<string>('eth_blockNumber', [], checkQuantity);
          return { ...base, rank: endpoint.rank(), head: Number(BigInt(hex)) };
        } catch (error) {
          const line = oneLine(error);
          return { ...base, rank: endpoint.rank(), error: line.length > 160 ? `${line.slice(0, 157)}…` : line };
        }
      }),
    );
    const probe = summarizeHeads(reports);
    if (!probe) throw rpcFailure('no-endpoint', `no endpoint of chain ${this.chainId} told its head: ${describeHeads(reports)}`);
    return probe;
  }
}
