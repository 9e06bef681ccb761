/**
 * `node --import tsx bench/decode.ts [--transfers N] [--mixed M] [--rounds R]`
 *
 * Log decoding alone, in one process, no RPC or database: the decoder the indexer uses
 * (src/abi/decode.ts) against the one it replaced (viem's decodeAbiParameters plus the cell
 * conversion, test/helpers/viem-decoder.ts), on
 *   - N ERC-20 Transfer logs (two indexed addresses, a uint256 in the data), and
 *   - M logs of a mix of complex events (the AllTypes fixture's events and a Uniswap V2 Swap).
 * The logs are generated with a fixed seed and encoded by viem. Each round decodes every log once
 * with each decoder (alternating, after a warm-up); the median of the rounds is printed, with the
 * slowest and fastest round, because the machine is shared. Also: the full path of one log through
 * LogRouter (lowercasing, routing, block numbers) with the new decoder.
 */
import { parseArgs } from 'node:util';
import { encodeAbiParameters, encodeEventTopics, keccak256, parseAbi, toHex, type AbiEvent, type Hex } from 'viem';
import { EventDecoder } from '../src/abi/decode';
import { eventTables, type EventTable } from '../src/abi/layout';
import { LogRouter } from '../src/indexing/log-router';
import type { RawLog } from '../src/rpc/client';
import type { IndexerSpec } from '../src/spec';
import { ViemEventDecoder } from '../test/helpers/viem-decoder';

const { values: flags } = parseArgs({
  options: {
    transfers: { type: 'string', default: '200000' },
    mixed: { type: 'string', default: '50000' },
    rounds: { type: 'string', default: '5' },
  },
});

let seed = 0x5eed;
function random(): number {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n: number) => Math.floor(random() * n);
const hex = (bytes: number): Hex => `0x${Array.from({ length: bytes }, () => int(256).toString(16).padStart(2, '0')).join('')}`;
const address = () => hex(20);
const amount = () => BigInt(hex(4 + int(8))); // 32..96 bits: token amounts of every size

const ABI: readonly unknown[] = parseAbi([
  'event Transfer(address indexed from, address indexed to, uint256 value)',
  'event Swap(address indexed sender, uint amount0In, uint amount1In, uint amount0Out, uint amount1Out, address indexed to)',
  'event Ints(uint8 small, uint256 big, int8 tiny, int256 signedBig, int64 neg, uint128 mid, uint24 odd)',
  'event Basics(address indexed fromAddress, bool flag, string text, bytes blob, bytes32 word, bytes1 one, bytes16 half)',
  'event Arrays(uint256[] nums, address[2] pair, bytes32[] words, string[] texts, int16[][] nested, bool[3] flags)',
  'struct Inner { uint8 a; address b; bytes c; }',
  'struct Outer { int64 x; Inner inner; string[] names; bytes32 tag; }',
  'event Tuples(Outer outer, Inner[] inners, uint256 tokenID)',
  'event IndexedDynamic(string indexed label, bytes indexed data, uint256[] indexed ids, uint256 value)',
]);
const events = (ABI as ReadonlyArray<{ type: string }>).filter((item): item is AbiEvent => item.type === 'event');
const byName = new Map(events.map((e) => [e.name, e]));

/** Arguments for one log of an event, realistic sizes. */
function argsFor(name: string): readonly unknown[] {
  const inner = () => ({ a: int(256), b: address(), c: hex(int(40)) });
  switch (name) {
    case 'Transfer':
      return [address(), address(), amount()];
    case 'Swap':
      return [address(), amount(), 0n, 0n, amount(), address()];
    case 'Ints':
      return [int(256), 2n ** 256n - 1n - amount(), -int(128), -(2n ** 255n) + amount(), -BigInt(int(2 ** 31)), amount() << 30n, int(2 ** 24)];
    case 'Basics':
      return [address(), random() < 0.5, int(2) ? 'text-7' : 'A\u20ac\u0000\u00ffB h\u00e9llo', hex(36), hex(32), hex(1), hex(16)];
    case 'Arrays':
      return [Array.from({ length: int(4) }, amount), [address(), address()], [hex(32), hex(32)], ['h\u00e9llo', 'n\u0000ul'], [[-int(100)], []], [true, false, random() < 0.3]];
    case 'Tuples':
      return [{ x: -BigInt(int(1000)), inner: inner(), names: ['name'], tag: hex(32) }, [inner(), { a: 0, b: `0x${'0'.repeat(40)}`, c: '0x' }], amount()];
    case 'IndexedDynamic':
      return ['label', hex(36), [amount()], amount()];
    default:
      throw new Error(name);
  }
}

function logOf(event: AbiEvent, args: readonly unknown[]): { topics: Hex[]; data: Hex } {
  const indexed = event.inputs.flatMap((p, i) => (('indexed' in p && p.indexed) ? [[p, args[i]] as const] : []));
  const topics = encodeEventTopics({
    abi: [event],
    eventName: event.name,
    args: indexed.map(([p, v]) => (/\]$|^tuple/.test(p.type) ? null : v)) as never,
  }).map((t) => (t as Hex | null) ?? keccak256(hex(8)));
  const data = encodeAbiParameters(event.inputs.filter((p) => !('indexed' in p && p.indexed)), event.inputs.flatMap((p, i) => (('indexed' in p && p.indexed) ? [] : [args[i]])) as never);
  return { topics: topics as Hex[], data };
}

interface Workload {
  title: string;
  logs: Array<{ table: EventTable; topics: Hex[]; data: Hex }>;
}

function workload(title: string, names: string[], count: number): Workload {
  const tables = new Map(eventTables('Bench', names.map((n) => byName.get(n)!)).map((t) => [t.event.name, t]));
  const logs: Workload['logs'] = [];
  for (let i = 0; i < count; i++) {
    const name = names[i % names.length]!;
    logs.push({ table: tables.get(name)!, ...logOf(byName.get(name)!, argsFor(name)) });
  }
  return { title, logs };
}

type Decoder = { decode(topics: readonly string[], data: string, where: () => string): unknown[] };
const where = () => 'bench';

/** Each log with its event's decoder, built before timing so that no round pays for setting up. */
function plan(w: Workload, make: (t: EventTable) => Decoder) {
  const decoders = new Map<EventTable, Decoder>();
  for (const l of w.logs) if (!decoders.has(l.table)) decoders.set(l.table, make(l.table));
  return w.logs.map((l) => ({ decoder: decoders.get(l.table)!, topics: l.topics, data: l.data }));
}

/** Seconds to decode every log of the workload once. */
function timeDecoders(logs: ReturnType<typeof plan>): number {
  let sink = 0;
  const started = process.hrtime.bigint();
  for (const p of logs) sink += p.decoder.decode(p.topics, p.data, where).length;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (sink < 0) throw new Error('unreachable');
  return seconds;
}

/** The router and the logs as eth_getLogs returns them. */
function routed(w: Workload): { router: LogRouter; raw: RawLog[] } {
  const contract = '0x00000000000000000000000000000000000000b0';
  const spec: IndexerSpec = {
    name: 'bench',
    chainId: 1,
    chain: 'bench',
    contracts: [{ name: 'Bench', addresses: [contract], startBlock: 0, events: [...new Set(w.logs.map((l) => l.table.event))] }],
    tuning: { confirmations: 0, pollIntervalMs: 1000, maxBlockRange: 2000, maxInFlight: 4, maxReorgDepth: 64, rpcTimeoutMs: 30_000 },
  };
  const raw: RawLog[] = w.logs.map((l, i) => ({
    address: contract,
    topics: l.topics,
    data: l.data,
    blockNumber: toHex(1_000_000 + (i >> 8)),
    blockHash: keccak256(toHex(i >> 8)),
    logIndex: toHex(i & 255),
    transactionHash: keccak256(toHex(i)),
  })) as RawLog[];
  return { router: new LogRouter(spec), raw };
}

function timeRouter({ router, raw }: ReturnType<typeof routed>): number {
  let sink = 0;
  const started = process.hrtime.bigint();
  for (const log of raw) sink += router.decode(log) ? 1 : 0;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (sink !== raw.length) throw new Error(`router dropped ${raw.length - sink} logs`);
  return seconds;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rate = (logs: number, seconds: number) => Math.round(logs / seconds).toLocaleString('en-US');

const rounds = Number(flags.rounds);
const workloads = [
  workload(`${Number(flags.transfers).toLocaleString('en-US')} ERC-20 Transfer`, ['Transfer'], Number(flags.transfers)),
  workload(`${Number(flags.mixed).toLocaleString('en-US')} mixed complex`, ['Swap', 'Ints', 'Basics', 'Arrays', 'Tuples', 'IndexedDynamic'], Number(flags.mixed)),
];

process.stdout.write(`decode benchmark, Node ${process.version}, median of ${rounds} rounds (min–max in brackets), logs/s\n`);
for (const w of workloads) {
  const before = plan(w, (t) => new ViemEventDecoder(t));
  const now = plan(w, (t) => new EventDecoder(t));
  const router = routed(w);
  // Warm-up: every path reaches optimised code before anything is timed.
  timeDecoders(before);
  timeDecoders(now);
  timeRouter(router);
  const old: number[] = [];
  const neu: number[] = [];
  const full: number[] = [];
  for (let r = 0; r < rounds; r++) {
    old.push(timeDecoders(before));
    neu.push(timeDecoders(now));
    full.push(timeRouter(router));
  }
  const n = w.logs.length;
  const range = (xs: number[]) => `[${rate(n, Math.max(...xs))}–${rate(n, Math.min(...xs))}]`;
  process.stdout.write(`${w.title}:\n`);
  process.stdout.write(`  viem decodeAbiParameters + cells (before): ${rate(n, median(old)).padStart(10)} ${range(old)}\n`);
  process.stdout.write(`  EventDecoder (now):                        ${rate(n, median(neu)).padStart(10)} ${range(neu)}  ${(median(old) / median(neu)).toFixed(1)}× faster\n`);
  process.stdout.write(`  LogRouter.decode, full path (now):         ${rate(n, median(full)).padStart(10)} ${range(full)}\n`);
}
