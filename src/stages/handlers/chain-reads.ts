import { createHash } from 'node:crypto';
import { createPublicClient, custom, type PublicClient } from 'viem';
import { qualified } from '../../db/identifiers';
import type { PoolClient } from '../../db/pool';
import { RpcRevert, type ChainRpc } from '../../rpc/client';
import type { HandlerBlockEvent, HandlerEvent } from './event';
import { EventFields, ReadProfiles, type PredictedRead, type ReadTemplate } from './read-profile';

/**
 * Handlers read the chain (DESIGN.md v3, "Handlers read the chain"): `client.readContract`,
 * `multicall`, `getBalance`, `getCode`, `getStorageAt` and `call`, viem's own actions, each pinned
 * to the block of the event being handled (or an earlier one). Every answer, a revert included, is
 * kept in `_rpc_cache` in the batch's own transaction, keyed by chain, block number, block hash and
 * the request: a replay (`indexer rebuild`, a repair, a handler run again after a crash) answers from
 * it with no RPC request, the same answer, the same revert. A rollback drops the entries of the
 * blocks it removes (./derived-state.ts). Calls a batch makes in one turn go out as JSON-RPC batches
 * through the chain's endpoints (failover, limits, lag rules: no endpoint is asked about a block
 * above its head). A failure that is not a revert fails the batch (it is handled again), whether
 * or not the handler caught it: it is never taken for an answer. The reads a handler makes per event
 * are learned (./read-profile.ts) and, from the second event on, sent for the batch's next events
 * ahead of the handler, in large batches: a cold run waits for few round trips instead of one per
 * event. Only answers a handler asked for enter the cache.
 */

export const RPC_CACHE = '_rpc_cache';

/** The cache, created with the handlers' bookkeeping. */
export function rpcCacheDdl(schema: string): string[] {
  const table = qualified(schema, RPC_CACHE);
  return [
    `CREATE TABLE IF NOT EXISTS ${table} (
       chain_id bigint NOT NULL,
       block_number bigint NOT NULL,
       block_hash text NOT NULL,
       request text NOT NULL,
       result text,
       revert text,
       PRIMARY KEY (chain_id, block_number, block_hash, request))`,
  ];
}

/** A rollback to `ancestor`: the cached reads of the blocks above it go (in the rollback's transaction). */
export async function forgetChainReadsAbove(client: PoolClient, schema: string, chainId: number, ancestor: number): Promise<void> {
  await client.query(`DELETE FROM ${qualified(schema, RPC_CACHE)} WHERE chain_id = $1 AND block_number > $2`, [chainId, ancestor]);
}

/** The read methods handlers may use, and where each carries its block parameter. */
const READ_METHODS: Record<string, number> = { eth_call: 1, eth_getBalance: 1, eth_getCode: 1, eth_getStorageAt: 2 };

/** The handler's `client`: viem's read actions, pinned to the event's block. */
export type HandlerClient = Pick<PublicClient, 'readContract' | 'multicall' | 'getBalance' | 'getCode' | 'getStorageAt' | 'call'>;

/** A read that failed for a reason other than a revert: the batch fails and is handled again. */
export class ChainReadFailed extends Error {}

interface Answer {
  result?: unknown;
  revert?: { message: string; data?: string };
}

/** Calls per JSON-RPC batch the prefetch sends, and batches of it on the wire at once. */
const PREFETCH_PER_REQUEST = 100;
const PREFETCH_IN_FLIGHT = 4;

/** What each worker learned of each indexer's handlers' reads (per schema and chain), kept across batches. */
const profilesByIndexer = new Map<string, ReadProfiles>();

/** An event of the batch as its reads are predicted: its handler's key, its block, its fields (made when needed). */
export interface UpcomingEvent {
  key: string;
  block: number;
  hash: string;
  event: () => HandlerEvent | HandlerBlockEvent;
}

interface Pending {
  method: string;
  params: unknown[];
  block: number;
  key: string;
  resolve: (answer: Answer) => void;
  reject: (error: unknown) => void;
}

/** The chain reads of one handlers batch: its cache entries, its pending calls, what it learned. */
export class ChainReads {
  /** Answers by `block:hash:request`: preloaded for the batch's blocks, and added to as calls come back. */
  private readonly answers = new Map<string, Answer>();
  /** The event whose handler reads now: its position in the batch, its block, and the reads it made so far. */
  private current: { index: number; block: number; hash: string; reads: number } | undefined;
  private upcoming: readonly UpcomingEvent[] = [];
  private readonly fields = new Map<number, EventFields>();
  private readonly profiles: ReadProfiles;
  /** Predicted answers not asked for yet, and predictions still on the wire. */
  private readonly prefetched = new Map<string, { answer: Answer; template: ReadTemplate }>();
  private readonly prefetching = new Map<string, Promise<void>>();
  /** Templates whose misses started a prediction pass in this batch. */
  private readonly triggered = new Set<ReadTemplate>();
  /** Templates whose predictions this batch sent, and how many of those were asked for. */
  private readonly predictions = new Map<ReadTemplate, { sent: number; used: number }>();
  private pending: Pending[] = [];
  /** The next batch on the wire, gathering reads; and every batch still out. */
  private gathering: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private preloaded: Promise<void> | undefined;
  private readonly learned: Array<{ block: number; hash: string; request: string; answer: Answer }> = [];
  /** Set once the batch has saved or failed: predictions not sent yet are not. */
  private closed = false;
  /** The first failure that was not a revert: the batch must not commit. */
  failure: unknown;
  /** Requests the batch sent to endpoints, and answered from the cache. */
  readonly counts = { sent: 0, cached: 0, prefetched: 0, prefetchUsed: 0 };
  private readonly viem: PublicClient;

  constructor(
    private readonly db: PoolClient,
    private readonly schema: string,
    private readonly chainId: number,
    private readonly rpc: () => ChainRpc,
    /** The blocks of the batch's events: their cache entries are read at the first read. */
    private readonly blocks: { from: number; to: number },
  ) {
    this.profiles = profilesByIndexer.get(`${schema}:${chainId}`) ?? new ReadProfiles();
    profilesByIndexer.set(`${schema}:${chainId}`, this.profiles);
    this.viem = createPublicClient({ transport: custom({ request: ({ method, params }) => this.request(method, params as unknown[]) }, { retryCount: 0 }) });
  }

  /** The cache's entries for the batch's blocks: one query, at the batch's first read (none for handlers that never read). */
  private preload(): Promise<void> {
    this.preloaded ??= this.readCache(this.blocks.from, this.blocks.to);
    return this.preloaded;
  }

  private async readCache(fromBlock: number, toBlock: number): Promise<void> {
    const { rows } = await this.db.query<{ block_number: string; block_hash: string; request: string; result: string | null; revert: string | null }>(
      `SELECT block_number, block_hash, request, result, revert FROM ${qualified(this.schema, RPC_CACHE)} WHERE chain_id = $1 AND block_number BETWEEN $2 AND $3`,
      [this.chainId, fromBlock, toBlock],
    );
    for (const r of rows) this.answers.set(`${r.block_number}:${r.block_hash}:${r.request}`, r.revert !== null ? { revert: JSON.parse(r.revert) } : { result: JSON.parse(r.result!) });
  }

  /** The batch's events, in the order their handlers run: what the prefetch predicts reads for. */
  expect(upcoming: readonly UpcomingEvent[]): void {
    this.upcoming = upcoming;
  }

  /** The client a handler gets for the batch's `index`th event (block `number`, hash `hash`). */
  clientFor(handler: string, index: number, number: number, hash: string): HandlerClient {
    this.current = { index, block: number, hash, reads: 0 };
    const at = (action: string, blockNumber: unknown, blockTag: unknown): bigint => {
      if (blockTag !== undefined && blockTag !== null) {
        throw new Error(`client.${action} at block "${String(blockTag)}" in ${handler}: reads are pinned to the event's block (${number}) or an earlier one, so a replay reads the same; give blockNumber instead`);
      }
      if (blockNumber === undefined || blockNumber === null) return BigInt(number);
      const asked = BigInt(blockNumber as bigint);
      if (asked > BigInt(number)) throw new Error(`client.${action} at block ${asked} in ${handler}: above the event's block ${number}; reads are pinned to it or an earlier one`);
      return asked;
    };
    type Args = { blockNumber?: bigint; blockTag?: string };
    const v = this.viem;
    return {
      readContract: ((args: Args) => v.readContract({ ...args, blockNumber: at('readContract', args.blockNumber, args.blockTag), blockTag: undefined } as never)) as never,
      multicall: ((args: Args & { contracts: unknown[]; allowFailure?: boolean }) => this.multicall(args, at('multicall', args.blockNumber, args.blockTag))) as never,
      getBalance: ((args: Args) => v.getBalance({ ...args, blockNumber: at('getBalance', args.blockNumber, args.blockTag), blockTag: undefined } as never)) as never,
      getCode: ((args: Args) => v.getCode({ ...args, blockNumber: at('getCode', args.blockNumber, args.blockTag), blockTag: undefined } as never)) as never,
      getStorageAt: ((args: Args) => v.getStorageAt({ ...args, blockNumber: at('getStorageAt', args.blockNumber, args.blockTag), blockTag: undefined } as never)) as never,
      call: ((args: Args) => v.call({ ...args, blockNumber: at('call', args.blockNumber, args.blockTag), blockTag: undefined } as never)) as never,
    };
  }

  /**
   * viem's `multicall` shape (`allowFailure` true by default: `{ status, result }` or `{ status,
   * error }` per contract), made of readContract calls that go out in one JSON-RPC batch.
   */
  private async multicall(args: { contracts: unknown[]; allowFailure?: boolean }, blockNumber: bigint): Promise<unknown[]> {
    const calls = args.contracts.map((contract) => this.viem.readContract({ ...(contract as object), blockNumber } as never));
    if (args.allowFailure === false) return Promise.all(calls);
    const settled = await Promise.allSettled(calls);
    return settled.map((s) => (s.status === 'fulfilled' ? { status: 'success', result: s.value } : { status: 'failure', error: s.reason }));
  }

  /** viem's transport: a read from the cache, or queued for the next batch on the wire. */
  private async request(method: string, params: unknown[]): Promise<unknown> {
    const position = READ_METHODS[method];
    if (position === undefined) {
      if (method === 'eth_chainId') return `0x${this.chainId.toString(16)}`;
      throw new Error(`${method} is not among the reads handlers may make (readContract, multicall, getBalance, getCode, getStorageAt, call)`);
    }
    const blockParam = params[position];
    if (typeof blockParam !== 'string' || !/^0x[0-9a-f]+$/i.test(blockParam)) throw new Error(`${method} without a block number: reads are pinned to a block`);
    const block = Number(BigInt(blockParam));
    const current = this.current;
    // The nth read of this event, counted whether or not it is learned from (a template is per n).
    const ordinal = current ? current.reads++ : 0;
    const key = this.keyOf(method, params, position, block);
    await this.preload();
    await this.prefetching.get(key);
    let answer = this.answers.get(key);
    const predicted = this.prefetched.get(key);
    if (answer) this.counts.cached += 1;
    else if (predicted) {
      answer = predicted.answer;
      this.prefetched.delete(key);
      this.remember(key, answer);
      this.predictions.get(predicted.template)!.used += 1;
      this.counts.prefetchUsed += 1;
    } else {
      // Learned from only when neither the cache nor a prediction had it: a warm replay learns nothing, predicts nothing.
      if (current) this.learn(current, ordinal, method, params, position, block);
      answer = await new Promise<Answer>((resolve, reject) => {
        this.pending.push({ method, params, block, key, resolve, reject });
        // Every read the handlers make in this turn goes in one batch on the wire.
        if (!this.gathering) {
          const sent = new Promise<void>((done) => setImmediate(done)).then(() => this.flush());
          this.gathering = sent;
          this.inFlight.add(sent);
          void sent.finally(() => this.inFlight.delete(sent));
        }
      });
    }
    if (answer.revert) throw revertError(answer.revert);
    return answer.result;
  }

  /**
   * The cache's key of a read: block, hash and the request's sha256. The hash is the event's block
   * hash for a read at the event's own block, else empty (whatever batch the read falls in, so a
   * replay computes the same key); a rollback drops entries by block number either way.
   */
  private keyOf(method: string, params: unknown[], position: number, block: number): string {
    const hash = this.current && block === this.current.block ? this.current.hash : '';
    const request = JSON.stringify([method, params.filter((_, i) => i !== position)]);
    return `${block}:${hash}:${createHash('sha256').update(request).digest('hex')}`;
  }

  /** An answer the handler got: kept for the batch's later reads and, when it commits, in the cache. */
  private remember(key: string, answer: Answer): void {
    this.answers.set(key, answer);
    const [block, hash, request] = key.split(':') as [string, string, string];
    this.learned.push({ block: Number(block), hash, request, answer });
  }

  private fieldsOf(index: number): EventFields {
    let fields = this.fields.get(index);
    if (!fields) this.fields.set(index, (fields = new EventFields(this.upcoming[index]!.event())));
    return fields;
  }

  /**
   * A read that had to go out, learned from; once its template predicts, the reads of the batch's
   * next events go out ahead (once per template and batch: a batch whose first read misses the cache
   * predicts the rest of it).
   */
  private learn(current: NonNullable<ChainReads['current']>, ordinal: number, method: string, params: unknown[], position: number, block: number): void {
    const upcoming = this.upcoming[current.index];
    if (!upcoming) return;
    const template = this.profiles.observe(upcoming.key, ordinal, this.fieldsOf(current.index), current.block, method, params, position, block);
    if (!template || this.predictions.has(template) || this.triggered.has(template) || !this.profiles.predicting) return;
    // Marked now, not when the pass has read the cache: the reads meanwhile must not start passes of their own.
    this.triggered.add(template);
    this.prefetchFrom(current.index + 1);
  }

  /** Sends the predicted reads of the batch's events from `index` on, for templates not predicted in this batch yet. */
  private prefetchFrom(index: number): void {
    void (async () => {
      await this.preload();
      const reads: Array<PredictedRead & { key: string }> = [];
      const seen = new Set<string>();
      const fresh = new Set<ReadTemplate>();
      for (let i = index; i < this.upcoming.length; i++) {
        const { key: handler, block, hash } = this.upcoming[i]!;
        for (const read of this.profiles.predict(handler, () => this.fieldsOf(i), block)) {
          if (this.predictions.has(read.template) && !fresh.has(read.template)) continue;
          fresh.add(read.template);
          const position = read.template.blockPosition;
          const key = `${read.block}:${read.block === block ? hash : ''}:${createHash('sha256').update(JSON.stringify([read.method, read.params.filter((_, j) => j !== position)])).digest('hex')}`;
          if (seen.has(key) || this.answers.has(key) || this.prefetched.has(key) || this.prefetching.has(key)) continue;
          seen.add(key);
          reads.push({ ...read, key });
        }
      }
      for (const template of fresh) if (!this.predictions.has(template)) this.predictions.set(template, { sent: 0, used: 0 });
      await this.sendPredicted(reads);
    })().catch(() => undefined);
  }

  /**
   * Predicted reads in JSON-RPC batches, a few on the wire at once, in the order the handlers will
   * ask for them; each read is marked as coming before its batch is sent, so the handler waits for
   * it instead of asking again. A batch that fails is dropped (the handler's own read then goes out).
   */
  private async sendPredicted(reads: Array<PredictedRead & { key: string }>): Promise<void> {
    const chunks: Array<{ reads: typeof reads; sent: Promise<void>; send: () => void }> = [];
    for (let i = 0; i < reads.length; i += PREFETCH_PER_REQUEST) {
      const chunk = reads.slice(i, i + PREFETCH_PER_REQUEST);
      let send!: () => void;
      const sent = new Promise<void>((start) => (send = start)).then(async () => {
        if (this.closed) return;
        const answers = await this.rpc().readMany(chunk, Math.max(...chunk.map((r) => r.block)), PREFETCH_PER_REQUEST);
        this.counts.prefetched += chunk.length;
        chunk.forEach((read, j) => {
          this.prefetched.set(read.key, { answer: answerOf(answers[j]), template: read.template });
          this.predictions.get(read.template)!.sent += 1;
        });
      }).catch(() => undefined).finally(() => {
        for (const read of chunk) this.prefetching.delete(read.key);
      });
      for (const read of chunk) this.prefetching.set(read.key, sent);
      chunks.push({ reads: chunk, sent, send });
    }
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < chunks.length) {
        const chunk = chunks[next++]!;
        chunk.send();
        await chunk.sent;
      }
    };
    await Promise.all(Array.from({ length: PREFETCH_IN_FLIGHT }, lane));
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.gathering = undefined;
    if (batch.length === 0) return;
    try {
      if (this.failure) throw this.failure;
      const answers = await this.rpc().readMany(batch, Math.max(...batch.map((p) => p.block)));
      this.counts.sent += batch.length;
      batch.forEach((p, i) => {
        const answer = answerOf(answers[i]);
        this.remember(p.key, answer);
        p.resolve(answer);
      });
    } catch (error) {
      this.closed = true;
      this.failure ??= new ChainReadFailed(`chain reads at block ${Math.min(...batch.map((p) => p.block))}: ${error instanceof Error ? error.message : String(error)}`);
      for (const p of batch) p.reject(this.failure);
    }
  }

  /** The batch failed: predictions not sent yet are not. */
  close(): void {
    this.closed = true;
  }

  /** Every read sent has come back (or failed). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** Writes what the batch learned into the cache (in the batch's transaction), and judges its predictions. */
  async save(): Promise<void> {
    this.closed = true;
    for (const [template, { sent, used }] of this.predictions) this.profiles.judge(template, sent, used);
    this.predictions.clear();
    if (this.learned.length === 0) return;
    const rows = this.learned.splice(0);
    await this.db.query(
      `INSERT INTO ${qualified(this.schema, RPC_CACHE)} (chain_id, block_number, block_hash, request, result, revert)
       SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[]) ON CONFLICT DO NOTHING`,
      [
        this.chainId,
        rows.map((r) => r.block),
        rows.map((r) => r.hash),
        rows.map((r) => r.request),
        rows.map((r) => (r.answer.revert ? null : JSON.stringify(r.answer.result ?? null))),
        rows.map((r) => (r.answer.revert ? JSON.stringify(r.answer.revert) : null)),
      ],
    );
  }
}

/** An endpoint's answer to a read: a result, or a revert (an answer too). */
function answerOf(raw: unknown): Answer {
  return raw instanceof RpcRevert ? { revert: { message: raw.message, ...(raw.data ? { data: raw.data } : {}) } } : { result: raw };
}

/** A revert as viem's transport raises it: viem's actions turn it into their own errors (the revert reason decoded). */
function revertError(revert: { message: string; data?: string }): Error {
  return Object.assign(new Error(revert.message), { code: 3, data: revert.data });
}
