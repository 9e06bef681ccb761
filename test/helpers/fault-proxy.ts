import http from 'node:http';
import type { Socket } from 'node:net';
import { freePort } from './ports';

/**
 * A fault-injecting JSON-RPC proxy on loopback, in front of a real node (anvil). Every POST body,
 * single call or batch, is forwarded to `target`; the answer goes back unchanged unless a fault
 * switched on with `fault()` fires. Faults can be switched on, changed and off while a test runs,
 * each one counts how often it fired, and the proxy can be stopped and restarted on the same port
 * to take the endpoint down and up.
 *
 * Transport faults (the whole HTTP exchange goes wrong):
 * - `http429`       answers HTTP 429 Too Many Requests (body: a provider-style JSON-RPC error)
 * - `http500`       answers HTTP 500
 * - `reset`         destroys the socket without answering
 * - `timeout`       holds the request `holdMs` (longer than the client's timeout), then drops it
 * - `truncate`      forwards, then sends only the first half of the answer's body
 * Content faults (one call inside the exchange goes wrong; the HTTP status stays 200):
 * - `tooManyResults` eth_getLogs whose real answer has more than `maxLogs` logs gets
 *                    `{"code":-32005,"message":"query returned more than 10000 results"}`
 * - `rangeCap`       eth_getLogs spanning more than `maxRange` blocks gets
 *                    `{"code":-32600,"message":"block range is too large, max <maxRange>"}`
 * - `outsideRange`   eth_getLogs answers carry an extra copy of one of their logs whose
 *                    blockNumber lies just outside the requested range
 * - `wrongChainId`   eth_chainId answers `chainId`
 * - `lag`            the endpoint is a node behind the chain: it serves exactly the chain up to
 *                    `head` (fixed) or the real head − `blocks`, and nothing above: eth_blockNumber
 *                    and `latest` say the lagging head, headers above it are null, eth_getLogs
 *                    answers drop every log above it (`[]` for a range wholly above it, or with
 *                    `aboveHead: "error"` a geth-style error for any range reaching above it).
 *                    With `every`/`burst` only some requests hit the lagging node, as behind a
 *                    load balancer over nodes at different heights.
 * - `dropLog`        removes one log from an eth_getLogs answer that has at least one (`prefer`:
 *                    `"alone"` a log that is the only one of its block in the answer, which the
 *                    block's logsBloom then contradicts; `"crowded"` one whose block holds others
 *                    of the answer, which no bloom can reveal; `"soleOfEvent"` one whose block
 *                    holds others of the answer but none of its address and topic0, which the
 *                    bloom contradicts although the block keeps logs (fires only on answers that
 *                    have such a log); default the middle log)
 * - `reroute`        forwards the request to `target` instead (another node, e.g. another chain:
 *                    a load balancer that misroutes)
 * - `noBlockTimestamp` eth_getLogs answers without the logs' `blockTimestamp` (older nodes and
 *                    providers leave it out; headers have it)
 * - `alterLog`       changes one log of an answer that has at least one (its `data`'s last byte,
 *                    e.g. a Transfer's value, made different): a log that is not on the chain
 * - `extraLog`       adds to an answer a copy of one of its logs at a log index its block does not
 *                    have (+ 0x100): an event that is not on the chain, of an address and topic the
 *                    block does have (no bloom reveals it)
 *
 * When a fault fires is set per fault: among the requests it applies to (its `methods`, and for
 * content faults only where it can: a getLogs answer with logs to copy, a range over the cap …),
 * `every: N, burst: K` fires on K consecutive ones out of every N (the last K), `times: T` stops
 * after T firings. `every` defaults to 1 (always); `{ times: K }` alone is "the next K requests".
 */

export type FaultKind =
  | 'http429'
  | 'http500'
  | 'reset'
  | 'timeout'
  | 'truncate'
  | 'tooManyResults'
  | 'rangeCap'
  | 'outsideRange'
  | 'wrongChainId'
  | 'lag'
  | 'dropLog'
  | 'reroute'
  | 'noBlockTimestamp'
  | 'alterLog'
  | 'extraLog';

export const FAULT_KINDS: readonly FaultKind[] = [
  'http429',
  'http500',
  'reset',
  'timeout',
  'truncate',
  'tooManyResults',
  'rangeCap',
  'outsideRange',
  'wrongChainId',
  'lag',
  'dropLog',
  'reroute',
  'noBlockTimestamp',
  'alterLog',
  'extraLog',
];

export interface FaultSchedule {
  /** Period in applicable requests; the fault fires on the last `burst` of every `every`. Default 1. */
  every?: number;
  /** Consecutive firings per period. Default 1. */
  burst?: number;
  /** Stop firing after this many firings (the rule stays, inert). Default: no limit. */
  times?: number;
  /** Only requests calling one of these methods (in a batch: any of its calls). Default: every method. */
  methods?: string[];
}

export interface FaultOptions {
  http429: FaultSchedule & { body?: string };
  http500: FaultSchedule & { body?: string };
  reset: FaultSchedule;
  /** `holdMs`: how long the request is held before its socket is destroyed. Default 3000. */
  timeout: FaultSchedule & { holdMs?: number };
  truncate: FaultSchedule;
  tooManyResults: FaultSchedule & { maxLogs: number };
  rangeCap: FaultSchedule & { maxRange: number };
  outsideRange: FaultSchedule;
  wrongChainId: FaultSchedule & { chainId: number };
  lag: FaultSchedule & ({ blocks: number; head?: undefined } | { head: number; blocks?: undefined }) & { aboveHead?: 'empty' | 'error' };
  dropLog: FaultSchedule & { prefer?: 'alone' | 'crowded' | 'soleOfEvent' };
  reroute: FaultSchedule & { target: string };
  noBlockTimestamp: FaultSchedule;
  alterLog: FaultSchedule;
  extraLog: FaultSchedule;
}

interface Rule<K extends FaultKind = FaultKind> {
  options: FaultOptions[K];
  /** Applicable requests seen, and firings, since the rule was set. */
  seen: number;
  fired: number;
}

export interface FaultProxy {
  port: number;
  /** `http://127.0.0.1:<port><path>` (the path is ignored by the proxy). */
  url: (path?: string) => string;
  /** Switches a fault on (or replaces its schedule; counters of the rule restart, `counts` do not). */
  fault: <K extends FaultKind>(kind: K, options: FaultOptions[K]) => void;
  /** Switches one fault, or every fault, off. */
  clear: (kind?: FaultKind) => void;
  /** How many times each fault fired since the proxy started (or `resetCounts`). */
  counts: Record<FaultKind, number>;
  /** HTTP requests received, JSON-RPC calls in them, calls per method, and requests per URL path. */
  stats: {
    requests: number;
    calls: number;
    batches: number;
    methods: Map<string, number>;
    paths: Map<string, number>;
    getLogsAddresses: number[];
    /** The block each chain read (eth_call, eth_getBalance, eth_getCode, eth_getStorageAt) asked about, and the lagging node's head then (undefined without `lag`). */
    reads: Array<{ method: string; block: number; lagHead: number | undefined }>;
  };
  /** Every log `dropLog` removed, `alterLog` changed or `extraLog` made up (block number, log index), in order. */
  dropped: Array<{ block: number; logIndex: number }>;
  altered: Array<{ block: number; logIndex: number }>;
  invented: Array<{ block: number; logIndex: number }>;
  /** The head the lagging node served last (undefined before `lag` fired). */
  readonly lagHead: number | undefined;
  resetCounts: () => void;
  /** Extra latency added to every forwarded answer (to make a backfill last long enough to interrupt). */
  setDelay: (ms: number) => void;
  /** Stops listening and drops every open connection, held ones too: callers see connection errors. */
  stop: () => Promise<void>;
  /** Listens again on the same port. */
  restart: () => Promise<void>;
  readonly listening: boolean;
}

interface JsonRpcCall {
  jsonrpc?: string;
  id?: unknown;
  method?: string;
  params?: unknown[];
}

interface JsonRpcAnswer {
  jsonrpc: string;
  id: unknown;
  result?: unknown;
  error?: { code: number; message: string };
}

const TRANSPORT_FAULTS = ['reset', 'timeout', 'http429', 'http500'] as const;

const emptyCounts = (): Record<FaultKind, number> => Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;

const hexNumber = (value: unknown): number | undefined => (typeof value === 'string' && /^0x[0-9a-f]+$/i.test(value) ? Number(BigInt(value)) : undefined);

export async function startFaultProxy(target: string, options: { port?: number } = {}): Promise<FaultProxy> {
  const port = options.port ?? (await freePort());
  const rules = new Map<FaultKind, Rule>();
  const counts = emptyCounts();
  const stats = {
    requests: 0,
    calls: 0,
    batches: 0,
    methods: new Map<string, number>(),
    paths: new Map<string, number>(),
    getLogsAddresses: [] as number[],
    reads: [] as Array<{ method: string; block: number; lagHead: number | undefined }>,
  };
  const dropped: Array<{ block: number; logIndex: number }> = [];
  const altered: Array<{ block: number; logIndex: number }> = [];
  const invented: Array<{ block: number; logIndex: number }> = [];
  let lastLagHead: number | undefined;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let delayMs = 0;
  let server: http.Server | undefined;

  /**
   * Whether the rule for `kind` fires on this request, given that it applies. Counts the request
   * among the rule's applicable ones, and the firing.
   */
  function fires(kind: FaultKind, methods: string[], applies = true): boolean {
    const rule = rules.get(kind);
    if (!rule || !applies) return false;
    const { every = 1, burst = 1, times, methods: only } = rule.options as FaultSchedule;
    if (only && !methods.some((m) => only.includes(m))) return false;
    if (times !== undefined && rule.fired >= times) return false;
    const index = rule.seen;
    rule.seen += 1;
    if (index % every < every - Math.min(burst, every)) return false;
    rule.fired += 1;
    counts[kind] += 1;
    return true;
  }

  const option = <K extends FaultKind>(kind: K): FaultOptions[K] | undefined => rules.get(kind)?.options as FaultOptions[K] | undefined;

  function rpcError(call: JsonRpcCall, code: number, message: string): JsonRpcAnswer {
    return { jsonrpc: '2.0', id: call.id ?? null, error: { code, message } };
  }

  const ok = (call: JsonRpcCall, result: unknown): JsonRpcAnswer => ({ jsonrpc: '2.0', id: call.id ?? null, result });
  const hex = (n: number) => `0x${n.toString(16)}`;
  /** A block parameter as a number, with tags resolved against the (lagging) head. */
  const blockParam = (value: unknown, head: number, fallback: number): number =>
    value === undefined ? fallback : typeof value === 'string' && /^0x/i.test(value) ? Number(BigInt(value)) : value === 'earliest' ? 0 : head;

  /** The lagging node's answers that need no real node: its head, and blocks it does not have. */
  function lagBefore(call: JsonRpcCall, head: number): JsonRpcAnswer | undefined {
    if (call.method === 'eth_blockNumber') return ok(call, hex(head));
    if (call.method === 'eth_getBlockByNumber' && blockParam(call.params?.[0], head, head) > head) return ok(call, null);
    if (call.method === 'eth_getLogs') {
      const filter = (call.params?.[0] ?? {}) as { fromBlock?: unknown; toBlock?: unknown; blockHash?: unknown };
      if (filter.blockHash !== undefined) return undefined;
      const from = blockParam(filter.fromBlock, head, head);
      const to = blockParam(filter.toBlock, head, head);
      if (option('lag')?.aboveHead === 'error' && to > head) return rpcError(call, -32000, 'block range extends beyond current head block');
      if (from > head) return ok(call, []);
    }
    return undefined;
  }

  /** The call as the lagging node runs it: tags mean its head, ranges end there. */
  function lagRewrite(call: JsonRpcCall, head: number): JsonRpcCall {
    if (call.method === 'eth_getBlockByNumber') return { ...call, params: [hex(blockParam(call.params?.[0], head, head)), ...(call.params ?? []).slice(1)] };
    if (call.method === 'eth_getLogs') {
      const filter = (call.params?.[0] ?? {}) as Record<string, unknown>;
      if (filter.blockHash !== undefined) return call;
      const from = blockParam(filter.fromBlock, head, head);
      const to = Math.min(blockParam(filter.toBlock, head, head), head);
      return { ...call, params: [{ ...filter, fromBlock: hex(from), toBlock: hex(to) }] };
    }
    return call;
  }

  function lagAfter(call: JsonRpcCall, answer: JsonRpcAnswer, head: number): JsonRpcAnswer {
    if (call.method === 'eth_getLogs' && Array.isArray(answer.result)) {
      return { ...answer, result: (answer.result as Array<{ blockNumber?: string }>).filter((l) => Number(BigInt(l.blockNumber ?? '0x0')) <= head) };
    }
    if (call.method === 'eth_getBlockByHash' && answer.result && Number(BigInt((answer.result as { number: string }).number)) > head) return { ...answer, result: null };
    return answer;
  }

  /** Content faults decided before forwarding (no need to ask the node). */
  function answerBefore(call: JsonRpcCall): JsonRpcAnswer | undefined {
    if (call.method === 'eth_getLogs') {
      const cap = option('rangeCap');
      const filter = (call.params?.[0] ?? {}) as { fromBlock?: unknown; toBlock?: unknown };
      const from = hexNumber(filter.fromBlock);
      const to = hexNumber(filter.toBlock);
      const span = from !== undefined && to !== undefined ? to - from + 1 : Infinity;
      if (cap && fires('rangeCap', [call.method], span > cap.maxRange)) {
        return rpcError(call, -32600, `block range is too large, max ${cap.maxRange}`);
      }
    }
    if (call.method === 'eth_chainId') {
      const wrong = option('wrongChainId');
      if (wrong && fires('wrongChainId', [call.method])) return { jsonrpc: '2.0', id: call.id ?? null, result: `0x${wrong.chainId.toString(16)}` };
    }
    return undefined;
  }

  /** Content faults decided on the node's real answer. */
  function answerAfter(call: JsonRpcCall, answer: JsonRpcAnswer): JsonRpcAnswer {
    if (call.method !== 'eth_getLogs' || !Array.isArray(answer.result)) return answer;
    let logs = answer.result as Array<Record<string, unknown>>;
    if (fires('noBlockTimestamp', [call.method], logs.length > 0)) {
      logs = logs.map(({ blockTimestamp: _, ...rest }) => rest);
      answer = { ...answer, result: logs };
    }
    const prefer = option('dropLog')?.prefer;
    const blockOf = (l: Record<string, unknown>) => String(l.blockNumber);
    const eventOf = (l: Record<string, unknown>) => `${blockOf(l)} ${String(l.address).toLowerCase()} ${String((l.topics as string[] | undefined)?.[0]).toLowerCase()}`;
    const perBlock = new Map<string, number>();
    const perEvent = new Map<string, number>();
    for (const l of logs) {
      perBlock.set(blockOf(l), (perBlock.get(blockOf(l)) ?? 0) + 1);
      perEvent.set(eventOf(l), (perEvent.get(eventOf(l)) ?? 0) + 1);
    }
    const soleOfEvent = (l: Record<string, unknown>) => perBlock.get(blockOf(l))! > 1 && perEvent.get(eventOf(l)) === 1;
    const droppable = prefer === 'soleOfEvent' ? logs.some(soleOfEvent) : logs.length > 0;
    if (fires('dropLog', [call.method], droppable)) {
      const candidates =
        prefer === 'soleOfEvent' ? logs.filter(soleOfEvent) : prefer ? logs.filter((l) => (perBlock.get(blockOf(l)) === 1) === (prefer === 'alone')) : [];
      const victim = candidates.length > 0 ? candidates[Math.floor(candidates.length / 2)]! : logs[Math.floor(logs.length / 2)]!;
      dropped.push({ block: Number(BigInt(String(victim.blockNumber))), logIndex: Number(BigInt(String(victim.logIndex))) });
      return { ...answer, result: logs.filter((l) => l !== victim) };
    }
    const position = (l: Record<string, unknown>) => ({ block: Number(BigInt(String(l.blockNumber))), logIndex: Number(BigInt(String(l.logIndex))) });
    if (fires('alterLog', [call.method], logs.length > 0)) {
      const victim = logs[Math.floor(logs.length / 2)]!;
      const data = String(victim.data);
      const last = parseInt(data.slice(-2), 16);
      const changed = { ...victim, data: `${data.slice(0, -2)}${((last + 1) % 256).toString(16).padStart(2, '0')}` };
      altered.push(position(victim));
      return { ...answer, result: logs.map((l) => (l === victim ? changed : l)) };
    }
    if (fires('extraLog', [call.method], logs.length > 0)) {
      const model = logs[Math.floor(logs.length / 2)]!;
      const copy = { ...model, logIndex: `0x${(Number(BigInt(String(model.logIndex))) + 0x100).toString(16)}` };
      invented.push(position(copy));
      const result = [...logs, copy].sort((a, b) => position(a).block - position(b).block || position(a).logIndex - position(b).logIndex);
      return { ...answer, result };
    }
    const tooMany = option('tooManyResults');
    if (tooMany && fires('tooManyResults', [call.method], logs.length > tooMany.maxLogs)) {
      return rpcError(call, -32005, 'query returned more than 10000 results');
    }
    if (fires('outsideRange', [call.method], logs.length > 0)) {
      const filter = (call.params?.[0] ?? {}) as { fromBlock?: unknown; toBlock?: unknown };
      const to = hexNumber(filter.toBlock) ?? Number(BigInt(String(logs[logs.length - 1]!.blockNumber)));
      const from = hexNumber(filter.fromBlock) ?? 0;
      // Alternate above and below the range (below only where there is a block below).
      const outside = counts.outsideRange % 2 === 1 || from === 0 ? to + 1 : from - 1;
      const copy = { ...logs[0]!, blockNumber: `0x${outside.toString(16)}` };
      return { ...answer, result: [...logs, copy] };
    }
    return answer;
  }

  async function forward(body: unknown, to = target): Promise<{ status: number; text: string }> {
    const response = await fetch(to, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: response.status, text: await response.text() };
  }

  async function realHead(node: string): Promise<number> {
    const { text } = await forward({ jsonrpc: '2.0', id: 1, method: 'eth_blockNumber', params: [] }, node);
    return Number(BigInt((JSON.parse(text) as { result: string }).result));
  }

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, raw: string): Promise<void> {
    stats.requests += 1;
    stats.paths.set(req.url ?? '/', (stats.paths.get(req.url ?? '/') ?? 0) + 1);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } }));
      return;
    }
    const batch = Array.isArray(parsed);
    if (batch) stats.batches += 1;
    const calls = (batch ? parsed : [parsed]) as JsonRpcCall[];
    const methods = calls.map((c) => String(c.method));
    stats.calls += calls.length;
    for (const m of methods) stats.methods.set(m, (stats.methods.get(m) ?? 0) + 1);
    const READS: Record<string, number> = { eth_call: 1, eth_getBalance: 1, eth_getCode: 1, eth_getStorageAt: 2 };
    for (const c of calls) {
      const at = READS[String(c.method)];
      const block = at === undefined ? undefined : hexNumber(c.params?.[at]);
      if (block !== undefined) stats.reads.push({ method: String(c.method), block, lagHead: option('lag') ? lastLagHead : undefined });
      if (c.method !== 'eth_getLogs') continue;
      const address = (c.params?.[0] as { address?: unknown } | undefined)?.address;
      stats.getLogsAddresses.push(Array.isArray(address) ? address.length : address === undefined ? 0 : 1);
    }

    // Transport faults: the exchange itself fails.
    for (const kind of TRANSPORT_FAULTS) {
      if (!fires(kind, methods)) continue;
      if (kind === 'reset') {
        req.socket.destroy();
        return;
      }
      if (kind === 'timeout') {
        await sleep(option('timeout')?.holdMs ?? 3_000);
        req.socket.destroy();
        return;
      }
      if (kind === 'http429') {
        const id = batch ? null : (calls[0]?.id ?? null);
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
        res.end(option('http429')?.body ?? JSON.stringify({ jsonrpc: '2.0', id, error: { code: 429, message: 'Too Many Requests: your app has hit its request rate' } }));
        return;
      }
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(option('http500')?.body ?? 'Internal Server Error');
      return;
    }

    // Where the request goes (a misrouting load balancer sends it elsewhere), and whether the node
    // that serves it lags.
    const node = fires('reroute', methods) ? option('reroute')!.target : target;
    let head: number | undefined;
    if (fires('lag', methods)) {
      const lag = option('lag')!;
      head = lag.head ?? Math.max(0, (await realHead(node)) - lag.blocks!);
      lastLagHead = head;
    }

    // Content faults, call by call; only the calls not answered here go to the node.
    const answers: Array<JsonRpcAnswer | undefined> = calls.map((c) => (head !== undefined ? lagBefore(c, head) : undefined) ?? answerBefore(c));
    const pending = calls
      .map((c, i) => ({ c, i }))
      .filter(({ i }) => !answers[i])
      .map(({ c, i }) => ({ c, i, sent: head !== undefined ? lagRewrite(c, head) : c }));
    let status = 200;
    let text: string;
    if (pending.length > 0) {
      const forwarded = await forward(batch ? pending.map((p) => p.sent) : pending[0]!.sent, node);
      status = forwarded.status;
      let real: unknown;
      try {
        real = JSON.parse(forwarded.text);
      } catch {
        real = undefined;
      }
      if (real === undefined || (batch && !Array.isArray(real))) {
        // Not JSON-RPC (a node error page): pass it through untouched.
        text = forwarded.text;
        if (delayMs) await sleep(delayMs);
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(maybeTruncate(text, methods));
        return;
      }
      const realAnswers = (batch ? real : [real]) as JsonRpcAnswer[];
      const byId = new Map(realAnswers.map((a) => [JSON.stringify(a.id), a]));
      pending.forEach(({ c, i }, n) => {
        const answer = (batch ? byId.get(JSON.stringify(c.id ?? null)) : realAnswers[n]) ?? rpcError(c, -32603, 'proxy: the node gave no answer for this call');
        answers[i] = answerAfter(c, head !== undefined ? lagAfter(c, answer, head) : answer);
      });
    }
    text = JSON.stringify(batch ? answers : answers[0]);
    if (delayMs) await sleep(delayMs);
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(maybeTruncate(text, methods));
  }

  function maybeTruncate(text: string, methods: string[]): string {
    return fires('truncate', methods) ? text.slice(0, Math.floor(text.length / 2)) : text;
  }

  const start = () =>
    new Promise<void>((resolve, reject) => {
      const s = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          handle(req, res, Buffer.concat(chunks).toString('utf8')).catch((error: Error) => {
            if (res.headersSent || res.destroyed) return;
            res.writeHead(502, { 'content-type': 'text/plain' });
            res.end(`proxy: ${error.message}`);
          });
        });
      });
      s.on('connection', (socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        server = s;
        resolve();
      });
    });

  const stop = async () => {
    const s = server;
    server = undefined;
    if (!s) return;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    // Held requests (timeout fault, delay) die with their sockets.
    for (const t of timers) clearTimeout(t);
    timers.clear();
    s.closeAllConnections();
    await closed;
  };

  await start();
  return {
    port,
    url: (path = '') => `http://127.0.0.1:${port}${path}`,
    fault: (kind, opts) => {
      rules.set(kind, { options: opts, seen: 0, fired: 0 });
    },
    clear: (kind) => {
      if (kind) rules.delete(kind);
      else rules.clear();
    },
    counts,
    stats,
    dropped,
    altered,
    invented,
    get lagHead() {
      return lastLagHead;
    },
    resetCounts: () => {
      Object.assign(counts, emptyCounts());
      stats.requests = 0;
      stats.calls = 0;
      stats.batches = 0;
      stats.methods.clear();
      stats.paths.clear();
      stats.getLogsAddresses.length = 0;
      stats.reads.length = 0;
    },
    setDelay: (ms) => {
      delayMs = ms;
    },
    stop,
    restart: start,
    get listening() {
      return server !== undefined;
    },
  };
}
