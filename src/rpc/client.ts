import { setTimeout as sleep } from 'node:timers/promises';
import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import { ChainIdMismatchError, RangeTooLargeError, RpcRequestError, RpcTimeoutError, oneLine } from '../errors';
import { Redactor } from '../redact';
import { BloomMatcher, parseBloom } from './bloom';
import { classifyRpcError } from './classify';
import { describeBlocks, effectiveCrossCheck, isSampled, mergeLogAnswers, type CrossCheckMode, type LogAnswer } from './cross-check';
import { Endpoint, type CallOptions, type EndpointHealth, type EndpointOptions } from './endpoint';
import { describeHeads, endpointsWithBlock, summarizeHeads, type EndpointHeadReport, type HeadProbe } from './heads';

export type { CrossCheckMode, EndpointHealth, HeadProbe };

export interface RawLog {
  address: string;
  topics: string[];
  data: string;
  blockNumber: string;
  blockHash: string;
  transactionHash: string;
  transactionIndex?: string;
  /** Not every RPC gives it (it is newer than eth_getLogs); headers have it otherwise. */
  blockTimestamp?: string;
  logIndex: string;
  removed?: boolean;
}

export interface BlockHeader {
  number: number;
  hash: string;
  parentHash: string;
  timestamp: number;
  /** 256-byte bloom of the block's log addresses and topics; absent if the node does not serve it. */
  logsBloom?: string;
}

export interface LogFilter {
  fromBlock: number;
  toBlock: number;
  addresses: string[];
  topic0s: string[];
}

export interface ChainRpcOptions extends Partial<Omit<EndpointOptions, 'chainId'>> {
  /** The chain's `crossCheck` setting; "all" with two or more endpoints when unset. */
  crossCheck?: CrossCheckMode;
  /**
   * Pauses before asking an endpoint again about a block whose logsBloom admits a configured
   * address and topic0 that its answer held no log of, when no other endpoint can be asked (one per
   * re-ask; default [250]: one re-ask, a quarter of a second later).
   */
  bloomRetryDelaysMs?: number[];
}

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


const HEX = /^0x[0-9a-fA-F]*$/;
const HASH = /^0x[0-9a-fA-F]{64}$/;

const hexQuantity = (h: unknown) => (typeof h === 'string' && HEX.test(h) && h !== '0x' ? undefined : `not a hex quantity (${JSON.stringify(h)})`);
const blockOf = (log: RawLog) => Number(BigInt(log.blockNumber));

/**
 * One lost request among the dozens an activity makes should cost milliseconds, not the whole
 * activity (Temporal's retries are for outages): every request is tried again twice, briefly.
 */
const RETRY = retry(
  handleWhen((error) => !(error instanceof RangeTooLargeError)),
  { maxAttempts: 2, backoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1_000 }) },
);

/** What every view of one chain's RPC shares: the endpoints and their state. */
interface Shared {
  endpoints: Endpoint[];
  redactor: Redactor;
  crossCheck?: CrossCheckMode;
  bloomRetryDelaysMs: number[];
  /** The head probe in flight, shared by every caller (one of each kind). */
  probing: { numbers?: Promise<HeadProbe>; headers?: Promise<HeadProbe> };
  stats: RpcCheckStats;
}

/** How one view routes its requests, and what it noticed (for the activity's result). */
interface Routing {
  /** Every request to this endpoint only (one endpoint's view of the tip). */
  pin?: number;
  /** Ask the best-ranked endpoint last (verification reads from another than the one ingesting). */
  avoidBest?: boolean;
  crossCheck?: CrossCheckMode;
  notices: string[];
}

/**
 * One chain's JSON-RPC access over one or more endpoints, with failover in order of health and
 * latency. Every error that leaves it is ours, with endpoints shown only by their redacted labels:
 * viem's messages quote full URLs, which may carry API keys.
 *
 * Endpoints disagree (DESIGN.md, "Endpoints that disagree"): each one's head is tracked and it is
 * never asked about a block above it; eth_getLogs answers are compared with a second endpoint
 * (`crossCheck`) and with the blocks' logsBloom where headers are at hand, and the union is kept;
 * an endpoint caught omitting logs is counted and ranked last for a while; one that answers for
 * another chain is taken out of rotation. Views (`session`, `pinnedTo`, `preferringSecond`) share
 * the endpoints and route differently.
 */
export class ChainRpc {
  readonly chainId!: number;
  readonly labels!: string[];
  private readonly shared!: Shared;
  private readonly routing!: Routing;

  constructor(chainId: number, urls: string[], options: ChainRpcOptions = {}) {
    const redactor = new Redactor();
    for (const url of urls) redactor.addUrl(url);
    const { crossCheck, bloomRetryDelaysMs, ...endpointOptions } = options;
    const endpoints = urls.map((url) => new Endpoint(url, { timeoutMs: 30_000, ...endpointOptions, chainId }));
    Object.assign(this, {
      chainId,
      labels: endpoints.map((e) => e.label),
      shared: {
        endpoints,
        redactor,
        crossCheck,
        bloomRetryDelaysMs: bloomRetryDelaysMs ?? [250],
        probing: {},
        stats: { crossChecked: 0, crossCheckSkipped: 0, bloomRechecks: 0, bloomFalsePositives: 0 },
      },
      routing: { notices: [] },
    });
  }

  private derive(routing: Routing): ChainRpc {
    const view = Object.create(ChainRpc.prototype) as ChainRpc;
    return Object.assign(view, { chainId: this.chainId, labels: this.labels, shared: this.shared, routing });
  }

  /**
   * A view for one activity: the same endpoints, its own notices, and the indexer's crossCheck
   * setting (the worker shares one ChainRpc per chain between indexers).
   */
  session(options: { crossCheck?: CrossCheckMode } = {}): ChainRpc {
    return this.derive({ crossCheck: options.crossCheck ?? this.routing.crossCheck, notices: [] });
  }

  /** Every request of the returned view goes to one endpoint (its notices are this view's). */
  pinnedTo(endpoint: number): ChainRpc {
    return this.derive({ ...this.routing, pin: endpoint, avoidBest: false });
  }

  /** The best-ranked endpoint is asked last: a second opinion beside the one that ingests. */
  preferringSecond(): ChainRpc {
    return this.derive({ ...this.routing, pin: undefined, avoidBest: true });
  }

  get label(): string {
    return this.labels.join(', ');
  }

  /** Breaker state, counters, head and lag per endpoint, for status and metrics. */
  health(): EndpointHealth[] {
    const heads = this.shared.endpoints.map((e) => e.head).filter((h): h is number => h !== undefined);
    const highest = heads.length > 0 ? Math.max(...heads) : undefined;
    return this.shared.endpoints.map((e) => {
      const health = e.health;
      return { ...health, lag: health.head !== null && highest !== undefined ? highest - health.head : null };
    });
  }

  /** Closes the endpoints' websockets, if any (a worker shutting down). */
  async close(): Promise<void> {
    await Promise.all(this.shared.endpoints.map((e) => e.close()));
  }

  checkStats(): RpcCheckStats {
    return { ...this.shared.stats };
  }

  redact(text: string): string {
    return this.shared.redactor.redact(text);
  }

  /**
   * What this view saw that an operator should see now (logs an endpoint omitted, an endpoint out
   * of rotation), as one line for the activity's result; undefined when all was well.
   */
  notice(): string | undefined {
    const lines = [...new Set(this.routing.notices)];
    for (const e of this.shared.endpoints) {
      if (!e.inRotation) lines.push(`${e.label} is out of rotation: it ${e.health.outOfRotation} (a misrouting load balancer?); asked again every 30 s`);
    }
    if (lines.length === 0) return undefined;
    const text = lines.join('; ');
    return text.length > 600 ? `${text.slice(0, 597)}…` : text;
  }

  private note(text: string): void {
    if (!this.routing.notices.includes(text)) this.routing.notices.push(text);
  }

  private endpoint(index: number): Endpoint {
    return this.shared.endpoints[index]!;
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
    if (this.routing.pin !== undefined) return all.filter((i) => i === this.routing.pin);
    if (this.routing.avoidBest && all.length > 1) return [...all.slice(1), all[0]!];
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
        .call<string>('eth_blockNumber', [], (error) => this.classify('eth_blockNumber', endpoint.label, error), hexQuantity)
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
  private async candidates(block: number | undefined): Promise<number[]> {
    this.refreshHeadsFor(block);
    let list = this.route(block);
    if (list.length === 0 && block !== undefined) {
      await this.probeHeads().catch(() => undefined);
      list = this.route(block);
    }
    if (list.length === 0) {
      const what =
        this.routing.pin !== undefined
          ? `${this.endpoint(this.routing.pin).label} does not have block ${block ?? 'latest'} (any more)`
          : block !== undefined
            ? `no endpoint has block ${block} yet`
            : 'no endpoint is in rotation';
      throw new RpcRequestError(`${what} (${this.describeEndpoints()}); waiting`);
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

  private call<T>(method: string, params: unknown[], check?: (result: T) => string | undefined, options: CallOptions = {}): Promise<{ result: T; source: number }> {
    return RETRY.execute(async () => this.callOnce(method, params, check, options, await this.candidates(options.needs)));
  }

  /** Tries the listed endpoints in order until one answers (and its answer passes `check`). */
  private async callOnce<T>(method: string, params: unknown[], check: ((result: T) => string | undefined) | undefined, options: CallOptions, list: number[]): Promise<{ result: T; source: number }> {
    const failures: Array<{ label: string; error: Error }> = [];
    for (const index of list) {
      const endpoint = this.endpoint(index);
      try {
        return { result: await endpoint.call<T>(method, params, (error) => this.classify(method, endpoint.label, error), check, options), source: index };
      } catch (error) {
        if (error instanceof RangeTooLargeError) throw error;
        failures.push({ label: endpoint.label, error: error as Error });
      }
    }
    if (method === 'eth_getLogs' && failures.length > 0 && failures.every((f) => f.error instanceof RpcTimeoutError)) {
      // Every endpoint timed out on this range: most likely it is too big to answer in time.
      throw new RangeTooLargeError(`eth_getLogs timed out on every endpoint (${failures.map((f) => f.label).join(', ')}); splitting the range`);
    }
    if (failures.length === 1) throw failures[0]!.error;
    throw new RpcRequestError(`RPC ${method} failed on all ${failures.length} endpoints: ${failures.map((f) => oneLine(f.error)).join('; ')}`);
  }

  private classify(method: string, label: string, error: unknown): Error {
    return classifyRpcError(method, label, error, (text) => this.redact(text));
  }

  /**
   * Transactions by hash, as JSON-RPC batches of up to `perBatch` (one HTTP request each, with the
   * chain id), from an endpoint that has block `needs`. A transaction a node does not know (null)
   * or that sits in another block than its logs say is retried, never stored.
   */
  async getTransactions(hashes: readonly string[], needs: number, perBatch = 50): Promise<Array<Record<string, unknown>>> {
    const out: Array<Record<string, unknown>> = [];
    for (let i = 0; i < hashes.length; i += perBatch) {
      const chunk = hashes.slice(i, i + perBatch);
      const check = (tx: Record<string, unknown> | null, index: number) => {
        if (!tx || typeof tx !== 'object') return `transaction ${chunk[index]} not found`;
        if (String(tx.hash).toLowerCase() !== chunk[index]!.toLowerCase()) return `asked for transaction ${chunk[index]}, got ${String(tx.hash)}`;
        if (!HASH.test(String(tx.blockHash ?? '')) || !HEX.test(String(tx.from ?? '')) || !HEX.test(String(tx.value ?? ''))) return `transaction ${chunk[index]} lacks blockHash, from or value`;
        return undefined;
      };
      const result = await RETRY.execute(async () => {
        const failures: Error[] = [];
        for (const index of await this.candidates(needs)) {
          const endpoint = this.endpoint(index);
          try {
            return await endpoint.callEach<Record<string, unknown> | null>('eth_getTransactionByHash', chunk.map((h) => [h]), (error) => this.classify('eth_getTransactionByHash', endpoint.label, error), check);
          } catch (error) {
            failures.push(error as Error);
          }
        }
        throw failures.length === 1 ? failures[0]! : new RpcRequestError(`RPC eth_getTransactionByHash failed on all ${failures.length} endpoints: ${failures.map((f) => oneLine(f)).join('; ')}`);
      });
      out.push(...(result as Array<Record<string, unknown>>));
    }
    return out;
  }

  private parseChainId(hex: string): number {
    return Number(BigInt(hex));
  }

  /**
   * Throws ChainIdMismatchError when any endpoint serves another chain. Endpoints that cannot be
   * reached are skipped (that is transient); if none can, the request error is thrown.
   */
  async assertChainId(): Promise<void> {
    let reached = 0;
    let lastError: unknown;
    for (const endpoint of this.shared.endpoints) {
      let actual: number;
      try {
        actual = this.parseChainId(await endpoint.call<string>('eth_chainId', [], (error) => this.classify('eth_chainId', endpoint.label, error), hexQuantity));
      } catch (error) {
        lastError = error;
        continue;
      }
      reached += 1;
      if (actual !== this.chainId) {
        throw new ChainIdMismatchError(
          `chain id mismatch: the config says ${this.chainId} but ${endpoint.label} serves chain ${actual}; fix chains.<key>.id or the RPC URL`,
        );
      }
    }
    if (reached === 0) throw lastError;
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
            const latest = await endpoint.call<Record<string, string> | null>('eth_getBlockByNumber', ['latest', false], (error) => this.classify('eth_getBlockByNumber', endpoint.label, error), (b) =>
              b && HEX.test(b.number ?? '') && b.number !== '0x' && HASH.test(b.hash ?? '') ? undefined : 'the latest block lacks number or hash',
            );
            return { ...base, rank: endpoint.rank(), head: Number(BigInt(latest!.number!)), hash: latest!.hash!.toLowerCase() };
          }
          const hex = await endpoint.call<string>('eth_blockNumber', [], (error) => this.classify('eth_blockNumber', endpoint.label, error), hexQuantity);
          return { ...base, rank: endpoint.rank(), head: Number(BigInt(hex)) };
        } catch (error) {
          const line = oneLine(error);
          return { ...base, rank: endpoint.rank(), error: line.length > 160 ? `${line.slice(0, 157)}…` : line };
        }
      }),
    );
    const probe = summarizeHeads(reports);
    if (!probe) throw new RpcRequestError(`no endpoint of chain ${this.chainId} told its head: ${describeHeads(reports)}`);
    return probe;
  }

  /** The chain's head: the highest among the endpoints (see probeHeads). */
  async getBlockNumber(): Promise<number> {
    return (await this.probeHeads()).head;
  }

  async getBlockHeader(number: number | 'latest'): Promise<BlockHeader> {
    const tag = number === 'latest' ? 'latest' : `0x${number.toString(16)}`;
    const { result: block } = await this.call<Record<string, string> | null>(
      'eth_getBlockByNumber',
      [tag, false],
      (b) => {
        if (!b) return `block ${number} not found`;
        if (!HASH.test(b.hash ?? '') || !HASH.test(b.parentHash ?? '') || !HEX.test(b.number ?? '') || !HEX.test(b.timestamp ?? '')) {
          return `block ${number} lacks hash, parentHash, number or timestamp`;
        }
        if (number !== 'latest' && Number(BigInt(b.number!)) !== number) return `asked for block ${number}, got ${Number(BigInt(b.number!))}`;
        return undefined;
      },
      { needs: number === 'latest' ? undefined : number },
    );
    return {
      number: Number(BigInt(block!.number!)),
      hash: block!.hash!.toLowerCase(),
      parentHash: block!.parentHash!.toLowerCase(),
      timestamp: Number(BigInt(block!.timestamp!)),
      logsBloom: typeof block!.logsBloom === 'string' ? block!.logsBloom.toLowerCase() : undefined,
    };
  }

  private logsRequest(filter: LogFilter): { params: unknown[]; check: (logs: RawLog[]) => string | undefined } {
    const params = [
      {
        fromBlock: `0x${filter.fromBlock.toString(16)}`,
        toBlock: `0x${filter.toBlock.toString(16)}`,
        address: filter.addresses,
        topics: [filter.topic0s],
      },
    ];
    return { params, check: (logs: RawLog[]) => checkLogAnswer(logs, filter) };
  }

  /** One endpoint's answer for the range (tried again briefly, like every request). */
  private logsFrom(filter: LogFilter, source: number): Promise<{ result: RawLog[]; source: number }> {
    const { params, check } = this.logsRequest(filter);
    return RETRY.execute(() => this.callOnce<RawLog[]>('eth_getLogs', params, check, { needs: filter.toBlock }, [source]));
  }

  /**
   * eth_getLogs with every answer checked (a log we cannot trust is a transient fault, never
   * stored), asked of a second endpoint too where `crossCheck` says so (the union is kept), and,
   * given the range's headers, re-asked for blocks whose logsBloom admits a configured address and
   * topic0 the answer holds no log of (recheckByBloom).
   */
  async getLogs(filter: LogFilter, options: { headers?: ReadonlyMap<number, BlockHeader> } = {}): Promise<RawLog[]> {
    const mode = effectiveCrossCheck(this.routing.crossCheck ?? this.shared.crossCheck, this.shared.endpoints.length);
    const compare = mode === 'all' || (mode === 'sample' && isSampled(filter.fromBlock, filter.toBlock));
    const answers = compare ? await this.comparedAnswers(filter) : [await this.logsAnswer(filter)];
    let logs: RawLog[];
    if (answers.length === 1) logs = answers[0]!.logs;
    else {
      const merged = mergeLogAnswers(answers);
      if (merged.conflict) throw new RpcRequestError(`eth_getLogs ${filter.fromBlock}-${filter.toBlock}: ${merged.conflict}; asking again`);
      for (const [source, omitted] of merged.omissions) {
        const others = answers.filter((a) => a.source !== source).map((a) => this.endpoint(a.source).label);
        this.caughtOmitting(source, `${this.endpoint(source).label} omitted ${omitted.logs} log(s) of block(s) ${describeBlocks(omitted.blocks)} that ${others.join(', ')} returned`);
      }
      logs = merged.logs;
    }
    if (options.headers) logs = await this.recheckByBloom(filter, logs, answers.map((a) => a.source), options.headers);
    return logs;
  }

  private async logsAnswer(filter: LogFilter): Promise<LogAnswer<RawLog>> {
    const { params, check } = this.logsRequest(filter);
    const { result, source } = await this.call<RawLog[]>('eth_getLogs', params, check, { needs: filter.toBlock });
    return { source, logs: result };
  }

  /** The range from this view's endpoint and, in parallel, from the best other one that has the blocks. */
  private async comparedAnswers(filter: LogFilter): Promise<Array<LogAnswer<RawLog>>> {
    const primary = (await this.candidates(filter.toBlock))[0]!;
    const second = this.endpointsHaving(filter.toBlock).find((i) => i !== primary);
    if (second === undefined) {
      // The others lag (or are out): go on with one answer, and count it.
      this.shared.stats.crossCheckSkipped += 1;
      return [await this.logsAnswer(filter)];
    }
    const [a, b] = await Promise.allSettled([this.logsFrom(filter, primary), this.logsFrom(filter, second)]);
    for (const r of [a, b]) if (r.status === 'rejected' && r.reason instanceof RangeTooLargeError) throw r.reason;
    if (a.status === 'fulfilled' && b.status === 'fulfilled') {
      this.shared.stats.crossChecked += 1;
      return [
        { source: primary, logs: a.value.result },
        { source: second, logs: b.value.result },
      ];
    }
    this.shared.stats.crossCheckSkipped += 1;
    // A pinned view never mixes: its own endpoint failed, so the view fails (the caller redoes it elsewhere).
    if (a.status === 'rejected' && this.routing.pin !== undefined) throw a.reason;
    if (a.status === 'fulfilled') return [{ source: primary, logs: a.value.result }];
    if (b.status === 'fulfilled') return [{ source: second, logs: b.value.result }];
    return [await this.logsAnswer(filter)];
  }

  private caughtOmitting(source: number, what: string): void {
    const endpoint = this.endpoint(source);
    endpoint.recordOmission();
    this.note(`${what}: stored them, ${endpoint.label} demoted (${endpoint.health.omissions} omission${endpoint.health.omissions === 1 ? '' : 's'} so far)`);
  }

  /**
   * Blocks whose logsBloom admits a configured address and a configured topic0 for which the
   * answers held no log (unexplainedPairs: a block holding a Transfer of A but no Approval of A,
   * whose bloom admits A and Approval's topic, is one; holding other logs does not clear it): asked
   * again, one span over all of them per round, of an endpoint that has not answered yet where there
   * is one, else of the same one after a pause. A log found then was omitted by every endpoint that
   * answered before. Two endpoints agreeing, or the re-asks coming back without the pair, settle it:
   * a bloom false positive (normal: on busy blocks most are), accepted at the cost of a request or
   * two, never a stall. The bloom cannot reveal a second log of a pair the answer holds one of; that
   * is crossCheck's part.
   */
  private async recheckByBloom(filter: LogFilter, logs: RawLog[], answeredBy: number[], headers: ReadonlyMap<number, BlockHeader>): Promise<RawLog[]> {
    const matcher = new BloomMatcher(filter);
    // Headers of the range with a bloom, parsed once for every round.
    const blooms: Array<{ number: number; bloom: Uint8Array }> = [];
    for (const h of headers.values()) {
      if (h.number < filter.fromBlock || h.number > filter.toBlock) continue;
      const bloom = parseBloom(h.logsBloom);
      if (bloom) blooms.push({ number: h.number, bloom });
    }
    if (blooms.length === 0) return logs;
    const unexplainedBlocks = (among: ReadonlyArray<{ number: number; bloom: Uint8Array }>, answer: readonly RawLog[]) => {
      const byBlock = new Map<number, RawLog[]>();
      for (const log of answer) {
        const n = blockOf(log);
        let list = byBlock.get(n);
        if (!list) byBlock.set(n, (list = []));
        list.push(log);
      }
      return among.filter((b) => matcher.unexplained(b.bloom, byBlock.get(b.number) ?? [], 1).length > 0);
    };
    let suspicious = unexplainedBlocks(blooms, logs);
    if (suspicious.length === 0) return logs;
    const saidEmpty = new Set(answeredBy);
    const omitters = new Set(answeredBy);
    let merged = logs;
    const delays = this.shared.bloomRetryDelaysMs;
    for (let round = 0; suspicious.length > 0 && saidEmpty.size < 2 && round < delays.length; round++) {
      const from = Math.min(...suspicious.map((b) => b.number));
      const to = Math.max(...suspicious.map((b) => b.number));
      const having = this.endpointsHaving(to);
      let source = having.find((i) => !saidEmpty.has(i));
      if (source === undefined) {
        source = having[0];
        if (source === undefined) break;
        await sleep(delays[round]!);
      }
      this.shared.stats.bloomRechecks += 1;
      const { result } = await this.logsFrom({ ...filter, fromBlock: from, toBlock: to }, source);
      const inSpan = merged.filter((l) => blockOf(l) >= from && blockOf(l) <= to);
      const both = mergeLogAnswers([
        { source: -1, logs: inSpan },
        { source, logs: result },
      ]);
      if (both.conflict) throw new RpcRequestError(`eth_getLogs ${from}-${to} asked again: ${both.conflict}; asking again`);
      const found = both.omissions.get(-1);
      if (found) {
        const label = this.endpoint(source).label;
        for (const omitter of omitters) {
          this.caughtOmitting(
            omitter,
            `${this.endpoint(omitter).label} returned no log of an indexed address and topic0 that the logsBloom of block(s) ${describeBlocks(found.blocks)} admits; asked again, ${label} returned ${found.logs}`,
          );
        }
        merged = [...merged.filter((l) => blockOf(l) < from || blockOf(l) > to), ...both.logs].sort((x, y) => blockOf(x) - blockOf(y) || Number(BigInt(x.logIndex)) - Number(BigInt(y.logIndex)));
        suspicious = unexplainedBlocks(suspicious, both.logs);
      }
      if (both.omissions.has(source)) this.caughtOmitting(source, `${this.endpoint(source).label} asked again left out logs it or another endpoint had returned`);
      omitters.add(source);
      if (suspicious.length > 0) saidEmpty.add(source);
    }
    this.shared.stats.bloomFalsePositives += suspicious.length;
    return merged;
  }
}

/**
 * Fields of the last log that passed checkLog. Consecutive logs mostly share their block and
 * transaction, and a field equal to one already checked needs no pattern test: at a million logs
 * the tests were a tenth of the worker's time.
 */
interface CheckedFields {
  blockNumber?: string;
  blockHash?: string;
  block?: number;
  transactionHash?: string;
  topic0?: string;
}

/** What is wrong with an eth_getLogs answer to `filter`, if anything: a log we cannot trust is never stored. */
export function checkLogAnswer(logs: readonly RawLog[], filter: LogFilter): string | undefined {
  if (!Array.isArray(logs)) return 'not an array';
  const addresses = new Set(filter.addresses.map((a) => a.toLowerCase()));
  const topics = new Set(filter.topic0s.map((t) => t.toLowerCase()));
  const checked: CheckedFields = {};
  for (const log of logs) {
    const problem = checkLog(log, filter, addresses, topics, checked);
    if (problem) return problem;
  }
  return undefined;
}

function checkLog(log: RawLog, filter: LogFilter, addresses: Set<string>, topics: Set<string>, checked: CheckedFields): string | undefined {
  if (!log || typeof log !== 'object') return 'a log is not an object';
  if (log.removed === true) return 'a log is marked removed';
  const sameBlock = checked.blockNumber !== undefined && log.blockNumber === checked.blockNumber && log.blockHash === checked.blockHash;
  const sameTransaction = checked.transactionHash !== undefined && log.transactionHash === checked.transactionHash;
  if (!(sameBlock || HEX.test(log.blockNumber ?? '')) || !HEX.test(log.logIndex ?? '')) return 'a log lacks blockNumber or logIndex';
  if (!sameBlock && (!HASH.test(log.blockHash ?? '') || /^0x0+$/.test(log.blockHash))) return 'a log lacks a block hash';
  if (!sameTransaction && !HASH.test(log.transactionHash ?? '')) return 'a log lacks a transaction hash';
  if (typeof log.data !== 'string' || !HEX.test(log.data)) return 'a log lacks data';
  if (!Array.isArray(log.topics) || !log.topics.every((t, i) => (i === 0 && checked.topic0 !== undefined && t === checked.topic0) || HASH.test(t))) return 'a log has malformed topics';
  const block = sameBlock ? checked.block! : Number(BigInt(log.blockNumber));
  if (block < filter.fromBlock || block > filter.toBlock) return `a log of block ${block} is outside the requested ${filter.fromBlock}-${filter.toBlock}`;
  if (!addresses.has(String(log.address).toLowerCase())) return `a log from ${log.address} which was not asked for`;
  if (!topics.has(String(log.topics[0]).toLowerCase())) return `a log with topic0 ${log.topics[0]} which was not asked for`;
  checked.blockNumber = log.blockNumber;
  checked.blockHash = log.blockHash;
  checked.block = block;
  checked.transactionHash = log.transactionHash;
  checked.topic0 = log.topics[0];
  return undefined;
}

/** Headers of [fromBlock, toBlock], a few requests at a time, checked to form one hash chain. */
export async function getHeaderChain(rpc: ChainRpc, fromBlock: number, toBlock: number, concurrency = 8): Promise<BlockHeader[]> {
  const numbers = Array.from({ length: Math.max(0, toBlock - fromBlock + 1) }, (_, i) => fromBlock + i);
  const headers: BlockHeader[] = [];
  for (let i = 0; i < numbers.length; i += concurrency) {
    headers.push(...(await Promise.all(numbers.slice(i, i + concurrency).map((n) => rpc.getBlockHeader(n)))));
  }
  for (let i = 1; i < headers.length; i++) {
    if (headers[i]!.parentHash !== headers[i - 1]!.hash) {
      // The node switched forks between our requests; asking again gives one consistent chain.
      throw new RpcRequestError(`${rpc.label}: block ${headers[i]!.number} does not extend block ${headers[i - 1]!.number}; the chain moved during the sync`);
    }
  }
  return headers;
}
