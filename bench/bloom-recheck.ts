/**
 * `npm run bench:bloom -- [--blocks N] [--logs L] [--children C] [--addresses 1,1000] [--span S] [--delays 250,750]`
 *
 * What the logsBloom re-check costs near the head (README, "Endpoints that disagree"): eth_getLogs
 * requests per 1,000 realtime blocks, and the time they add, on blocks whose blooms are mostly set.
 *
 * One anvil; every block is one transaction of a Noise contract (test/fixtures/BusyBlocks.sol): L
 * logs of four topics from C child contracts (in each child's first two logs the topic0 of Transfer
 * and of Approval, as other tokens emit them; the rest random), which set most of the 2,048 bloom
 * bits, then the indexed token's own events, in turn none, one Transfer, two Transfers, an Approval
 * and a Transfer. The blocks are then indexed the realtime way, S blocks per tip step as syncTip
 * does (the header chain from the block before, then eth_getLogs with those headers, from a view
 * pinned to the tip endpoint), with one endpoint and with two (crossCheck "off" and "all"), each
 * behind a counting proxy; the filter is the token's Transfer and Approval with the token's
 * address alone, or with made-up addresses added (a factory's children: on such blooms most are
 * admitted too). Every answer is compared with anvil's own eth_getLogs. No Temporal, no database.
 *
 * Also printed: what the rule before this one (re-ask only blocks without any log) would have
 * flagged on the same blocks, computed from their blooms and logs, and the CPU the rule takes.
 */
import { parseArgs } from 'node:util';
import { toEventSelector } from 'viem';
import { BloomMatcher, bloomAdmits, parseBloom } from '../src/rpc/bloom';
import { ChainRpc, getHeaderChain, type BlockHeader, type CrossCheckMode, type RawLog } from '../src/rpc/client';
import { FAST_MINING_ANVIL_ARGS, startTestChain } from '../test/helpers/chain';
import { startFaultProxy, type FaultProxy } from '../test/helpers/fault-proxy';
import { compileFixture } from '../test/helpers/solidity';

const { values: flags } = parseArgs({
  options: {
    blocks: { type: 'string', default: '200' },
    logs: { type: 'string', default: '320' },
    children: { type: 'string', default: '8' },
    addresses: { type: 'string', default: '1,1000' },
    span: { type: 'string', default: '1' },
    delays: { type: 'string', default: '250' },
  },
});
const BLOCKS = Number(flags.blocks);
const LOGS = Number(flags.logs);
const CHILDREN = Number(flags.children);
const ADDRESS_COUNTS = flags.addresses.split(',').map(Number);
const SPAN = Number(flags.span);
const DELAYS = flags.delays.split(',').filter(Boolean).map(Number);
const TRANSFER = toEventSelector('Transfer(address,address,uint256)');
const APPROVAL = toEventSelector('Approval(address,address,uint256)');
/** The token's events in block i (approvals, transfers), in turn. */
const TOKEN_PLAN: Array<[number, number]> = [
  [0, 0],
  [0, 1],
  [0, 2],
  [1, 1],
];

const say = (line: string) => process.stdout.write(`${line}\n`);
const perK = (n: number, blocks: number) => Math.round((n * 1000) / blocks);
const median = (xs: number[]) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

function popcount(bloom: Uint8Array): number {
  let n = 0;
  for (const byte of bloom) for (let b = byte; b; b &= b - 1) n++;
  return n;
}

/** Deterministic made-up addresses (a factory's children that emit nothing here). */
function fakeAddresses(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `0x${(0xb10c0000 + i).toString(16).padStart(40, 'c')}`);
}

interface Setup {
  title: string;
  endpoints: 1 | 2;
  crossCheck?: CrossCheckMode;
}

/**
 * Re-asks per tip step with a suspicious block when the re-asks come back the same, as they do
 * here: one endpoint is asked again once per pause; two without a cross-check ask the other one
 * once (the two agree); with crossCheck "all" the two answers already agree, nothing is re-asked.
 */
const roundsPerSuspicion = (setup: Setup) => (setup.endpoints === 1 ? DELAYS.length : setup.crossCheck === 'all' ? 0 : 1);

const SETUPS: Setup[] = [
  { title: 'one endpoint', endpoints: 1 },
  { title: 'two endpoints, crossCheck "off"', endpoints: 2, crossCheck: 'off' },
  { title: 'two endpoints, crossCheck "all" (their default)', endpoints: 2, crossCheck: 'all' },
];

async function main(): Promise<void> {
  const twoEvents = compileFixture('BusyBlocks', 'TwoEvents');
  const noise = compileFixture('BusyBlocks', 'Noise');
  const chain = await startTestChain({ anvilArgs: FAST_MINING_ANVIL_ARGS });
  const proxies: FaultProxy[] = [];
  try {
    const token = await chain.deploy(twoEvents.abi, twoEvents.bytecode);
    const busy = await chain.deploy(noise.abi, noise.bytecode, [BigInt(CHILDREN)]);
    const first = Number(await chain.publicClient.getBlockNumber()) + 1;
    const started = Date.now();
    for (let i = 0; i < BLOCKS; i++) {
      const [approvals, transfers] = TOKEN_PLAN[i % TOKEN_PLAN.length]!;
      await chain.send(busy, noise.abi, 'busyBlock', [BigInt(LOGS), BigInt(i + 1), token, BigInt(approvals), BigInt(transfers)], { gas: 25_000_000n });
    }
    const last = Number(await chain.publicClient.getBlockNumber());
    if (last - first + 1 !== BLOCKS) throw new Error(`expected ${BLOCKS} blocks, mined ${last - first + 1}`);

    // The blocks' blooms and the token's logs, from anvil itself.
    const truthRpc = new ChainRpc(chain.chainId, [chain.url], { timeoutMs: 30_000 });
    const headers = await getHeaderChain(truthRpc, first - 1, last);
    const byNumber = new Map(headers.map((h) => [h.number, h]));
    const fills = headers.slice(1).map((h) => popcount(parseBloom(h.logsBloom)!) / 2048);
    const truth = (await chain.publicClient.request({
      method: 'eth_getLogs',
      params: [{ address: token, fromBlock: `0x${first.toString(16)}`, toBlock: `0x${last.toString(16)}`, topics: [[TRANSFER, APPROVAL]] }],
    })) as unknown as RawLog[];
    const truthByBlock = new Map<number, RawLog[]>();
    for (const l of truth) {
      const n = Number(BigInt(l.blockNumber));
      truthByBlock.set(n, [...(truthByBlock.get(n) ?? []), l]);
    }
    say(
      `chain: ${BLOCKS} blocks (${first}-${last}) mined in ${((Date.now() - started) / 1000).toFixed(0)} s, each ${LOGS} noise logs of 4 topics from ${CHILDREN} contracts, ` +
        `then the token's events (none, 1 Transfer, 2 Transfers, Approval + Transfer in turn; ${truth.length} logs); ` +
        `bloom bits set: mean ${(100 * sum(fills) / fills.length).toFixed(1)}%, min ${(100 * Math.min(...fills)).toFixed(1)}%, max ${(100 * Math.max(...fills)).toFixed(1)}%`,
    );
    say(`re-ask pauses (one endpoint): ${JSON.stringify(DELAYS)} ms; ${SPAN} block(s) per tip step`);

    proxies.push(await startFaultProxy(chain.url), await startFaultProxy(chain.url));
    for (const count of ADDRESS_COUNTS) {
      const filterBase = { addresses: [token.toLowerCase(), ...fakeAddresses(count - 1)], topic0s: [TRANSFER, APPROVAL] };
      // What each rule flags, from the blooms and anvil's logs.
      const matcher = new BloomMatcher(filterBase);
      let flaggedNew = 0;
      let flaggedOld = 0;
      const cpuStarted = performance.now();
      for (let n = first; n <= last; n++) if (matcher.unexplained(byNumber.get(n)!.logsBloom, truthByBlock.get(n) ?? [], 1).length > 0) flaggedNew++;
      const cpuPerBlock = (performance.now() - cpuStarted) / BLOCKS;
      const oldRule = (n: number) => !truthByBlock.has(n) && bloomAdmits(byNumber.get(n)!.logsBloom, filterBase) === true;
      for (let n = first; n <= last; n++) if (oldRule(n)) flaggedOld++;
      // Tip steps (one span re-asked per round) with a block the rule before would have re-asked.
      let stepsOld = 0;
      for (let from = first; from <= last; from += SPAN) {
        for (let n = from; n <= Math.min(last, from + SPAN - 1); n++) {
          if (oldRule(n)) {
            stepsOld++;
            break;
          }
        }
      }
      say(
        `\nfilter: ${count} address(es) × Transfer, Approval. Blocks the bloom makes suspicious: ${flaggedNew} of ${BLOCKS} (${perK(flaggedNew, BLOCKS)} per 1,000) ` +
          `with this rule; ${flaggedOld} (${perK(flaggedOld, BLOCKS)} per 1,000) with the rule before (blocks without any log). The rule's CPU: ${(cpuPerBlock * 1000).toFixed(0)} µs per block`,
      );
      for (const setup of SETUPS) {
        // Once without the headers (no re-check: the baseline), once with them (as syncTip does).
        const runs: Record<'without' | 'with', { getLogs: number; ms: number; rechecks: number; falsePositives: number; stepsReasked: number; reaskMs: number[] }> = {} as never;
        for (const mode of ['without', 'with'] as const) {
          const urls = proxies.slice(0, setup.endpoints).map((p, i) => p.url(`/k${i}`));
          const rpc = new ChainRpc(chain.chainId, urls, { timeoutMs: 30_000, crossCheck: setup.crossCheck, bloomRetryDelaysMs: DELAYS });
          const probe = await rpc.probeHeads({ hashes: true });
          const view = rpc.session({ crossCheck: setup.crossCheck }).pinnedTo(probe.tip);
          for (const p of proxies) p.resetCounts();
          let ms = 0;
          let stepsReasked = 0;
          const reaskMs: number[] = [];
          for (let from = first; from <= last; from += SPAN) {
            const to = Math.min(last, from + SPAN - 1);
            const chainHeaders: BlockHeader[] = await getHeaderChain(view, from - 1, to);
            const options = mode === 'with' ? { headers: new Map(chainHeaders.map((h) => [h.number, h])) } : {};
            const before = rpc.checkStats().bloomRechecks;
            const t0 = performance.now();
            const logs = await view.getLogs({ ...filterBase, fromBlock: from, toBlock: to }, options);
            const took = performance.now() - t0;
            ms += took;
            if (rpc.checkStats().bloomRechecks > before) {
              stepsReasked++;
              reaskMs.push(took);
            }
            const want = truth.filter((l) => Number(BigInt(l.blockNumber)) >= from && Number(BigInt(l.blockNumber)) <= to).map((l) => `${l.blockNumber}:${l.logIndex}`);
            const have = logs.map((l) => `${l.blockNumber}:${l.logIndex}`);
            if (JSON.stringify(have) !== JSON.stringify(want)) throw new Error(`${setup.title}: blocks ${from}-${to}: ${have.length} logs, anvil has ${want.length}`);
          }
          const stats = rpc.checkStats();
          runs[mode] = {
            getLogs: sum(proxies.map((p) => p.stats.methods.get('eth_getLogs') ?? 0)),
            ms,
            rechecks: stats.bloomRechecks,
            falsePositives: stats.bloomFalsePositives,
            stepsReasked,
            reaskMs,
          };
          await rpc.close();
        }
        const { without, with: withRecheck } = runs;
        const steps = Math.ceil(BLOCKS / SPAN);
        say(
          `  ${setup.title}: eth_getLogs per 1,000 blocks ${perK(without.getLogs, BLOCKS)} without the re-check, ${perK(withRecheck.getLogs, BLOCKS)} with it ` +
            `(+${perK(withRecheck.getLogs - without.getLogs, BLOCKS)}; re-asks counted ${perK(withRecheck.rechecks, BLOCKS)}, false positives ${perK(withRecheck.falsePositives, BLOCKS)}; ` +
            `the rule before would have re-asked ${perK(stepsOld * roundsPerSuspicion(setup), BLOCKS)}); ` +
            `tip steps re-asked ${withRecheck.stepsReasked} of ${steps} (median ${median(withRecheck.reaskMs).toFixed(0)} ms each); ` +
            `getLogs time per step ${(without.ms / steps).toFixed(1)} → ${(withRecheck.ms / steps).toFixed(1)} ms, added ${((withRecheck.ms - without.ms) / BLOCKS).toFixed(1)} s per 1,000 blocks`,
        );
      }
    }
    await truthRpc.close();
  } finally {
    for (const p of proxies) await p.stop();
    await chain.stop();
  }
}

await main();
process.exit(0);
