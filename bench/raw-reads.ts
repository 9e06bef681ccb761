import { toFunctionSelector, type Address, type Hex } from 'viem';

/**
 * The limit for handlers that read the chain: no database, no Temporal, no indexer. The Emitter's
 * Transfer logs by eth_getLogs (chunks of `chunkBlocks` blocks, `inFlight` chunks at once, as
 * bench/raw.ts), and for every log the same two eth_call at the log's block as the bench's
 * handler (balanceOf(to), and totalSupply() or allowance(from, to)), sent in JSON-RPC batches of
 * `batch` calls; every answer decoded to a bigint. Each of the `inFlight` chunks sends its batches
 * one after the other, so at most `inFlight` requests are at anvil at once.
 *
 * `oneEventAtATime` instead sends each event's two calls in a request of their own and waits for
 * its answer before the next event, with eth_chainId and eth_blockNumber in the same batch (what
 * the worker's RPC layer adds to every batch): the round trips of a handler that awaits its reads,
 * without the indexer around them.
 */
export type SecondRead = 'supply' | 'allowance';

const BALANCE_OF = toFunctionSelector('balanceOf(address)');
const TOTAL_SUPPLY = toFunctionSelector('totalSupply()');
const ALLOWANCE = toFunctionSelector('allowance(address,address)');

type Log = { topics: Hex[]; blockNumber: Hex };
type Answer = { id: number; result?: Hex; error?: { code: number; message: string } };

export interface RawReadsResult {
  seconds: number;
  events: number;
  calls: number;
  requests: number;
  /** Sum of every balanceOf answer and of every second answer: the same whatever the batching. */
  balances: bigint;
  seconds2: bigint;
}

/** ABI-encodes a 20-byte address from a topic (already left-padded to 32 bytes). */
const word = (topic: Hex) => topic.slice(2);

function callsOf(log: Log, token: Address, second: SecondRead): Array<{ to: Address; data: Hex; block: Hex }> {
  const from = word(log.topics[1]!);
  const to = word(log.topics[2]!);
  return [
    { to: token, data: `${BALANCE_OF}${to}`, block: log.blockNumber },
    { to: token, data: second === 'supply' ? TOTAL_SUPPLY : `${ALLOWANCE}${from}${to}`, block: log.blockNumber },
  ];
}

export async function runRawReads(
  rpcUrl: string,
  address: Address,
  token: Address,
  head: number,
  options: { second: SecondRead; batch?: number; inFlight?: number; chunkBlocks?: number; oneEventAtATime?: boolean; maxEvents?: number },
): Promise<RawReadsResult> {
  const batchSize = options.batch ?? 100;
  const chunkBlocks = options.chunkBlocks ?? 100;
  let nextId = 1;
  let requests = 0;
  const post = async (body: unknown[]): Promise<Answer[]> => {
    requests += 1;
    const response = await fetch(rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`anvil answered HTTP ${response.status}`);
    return (await response.json()) as Answer[];
  };
  const result: RawReadsResult = { seconds: 0, events: 0, calls: 0, requests: 0, balances: 0n, seconds2: 0n };
  /** The answers to calls `ids`: pairs of (balanceOf, second read), the first of `ids` a balanceOf when `firstIsBalance`. */
  const decode = (answers: Answer[], ids: number[], firstIsBalance: boolean) => {
    const byId = new Map(answers.map((a) => [a.id, a]));
    ids.forEach((id, i) => {
      const a = byId.get(id);
      if (!a || a.error || !a.result) throw new Error(`eth_call ${id}: ${a?.error?.message ?? 'no answer'}`);
      const value = BigInt(a.result);
      if ((i % 2 === 0) === firstIsBalance) result.balances += value;
      else result.seconds2 += value;
    });
  };
  const idsFor = (n: number) => Array.from({ length: n }, () => nextId++);
  const ranges: Array<[number, number]> = [];
  for (let from = 0; from <= head; from += chunkBlocks) ranges.push([from, Math.min(head, from + chunkBlocks - 1)]);
  const started = Date.now();
  const logsOf = async ([from, to]: [number, number]): Promise<Log[]> => {
    const [answer] = await post([{ jsonrpc: '2.0', id: 0, method: 'eth_getLogs', params: [{ address, fromBlock: `0x${from.toString(16)}`, toBlock: `0x${to.toString(16)}` }] }]);
    if (!answer?.result) throw new Error(`eth_getLogs ${from}-${to}: ${answer?.error?.message ?? 'no answer'}`);
    return answer.result as unknown as Log[];
  };
  const call = (c: { to: Address; data: Hex; block: Hex }, id: number) => ({ jsonrpc: '2.0', id, method: 'eth_call', params: [{ to: c.to, data: c.data }, c.block] });
  if (options.oneEventAtATime) {
    const limit = options.maxEvents ?? Number.POSITIVE_INFINITY;
    for (const range of ranges) {
      for (const log of await logsOf(range)) {
        if (result.events >= limit) break;
        const ids = idsFor(2);
        const answers = await post([{ jsonrpc: '2.0', id: -1, method: 'eth_chainId' }, { jsonrpc: '2.0', id: -2, method: 'eth_blockNumber' }, ...callsOf(log, token, options.second).map((c, i) => call(c, ids[i]!))]);
        decode(answers, ids, true);
        result.events += 1;
        result.calls += 2;
      }
      if (result.events >= limit) break;
    }
  } else {
    const worker = async () => {
      for (let r = ranges.shift(); r; r = ranges.shift()) {
        const calls = (await logsOf(r)).flatMap((log) => callsOf(log, token, options.second));
        result.events += calls.length / 2;
        for (let i = 0; i < calls.length; i += batchSize) {
          const chunk = calls.slice(i, i + batchSize);
          const ids = idsFor(chunk.length);
          decode(await post(chunk.map((c, j) => call(c, ids[j]!))), ids, i % 2 === 0);
          result.calls += chunk.length;
        }
      }
    };
    await Promise.all(Array.from({ length: options.inFlight ?? 4 }, worker));
  }
  result.seconds = (Date.now() - started) / 1000;
  result.requests = requests;
  return result;
}
