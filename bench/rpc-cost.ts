/**
 * `node --import tsx bench/rpc-cost.ts [--blocks N] [--every K] [--realtime-seconds S] [--modes off,sample,all]`
 *
 * What keeping endpoints honest costs in requests (README, "RPC endpoints"). Two endpoints, each a
 * counting proxy in front of one anvil, and for each `crossCheck` setting:
 * - backfill: a chain of N blocks with a transaction of 1-5 Transfer logs every K blocks, indexed
 *   to its end with the default maxBlockRange; HTTP requests and JSON-RPC calls per 1,000 blocks;
 * - realtime: S seconds following the head with a block of logs every second; requests and calls
 *   per new block.
 * Needs the Temporal CLI and PostgreSQL (DATABASE_URL, else an embedded one), like the tests.
 */
import { parseArgs } from 'node:util';
import { FAST_MINING_ANVIL_ARGS, startTestChain } from '../test/helpers/chain';
import { startFaultProxy, type FaultProxy } from '../test/helpers/fault-proxy';
import { specsFrom, startIndexer, status } from '../test/helpers/indexer';
import { compileFixture } from '../test/helpers/solidity';
import { startStack, uniqueName } from '../test/helpers/stack';
import { eventually, startInProcessWorker } from '../test/helpers/workers';

const { values: flags } = parseArgs({
  options: {
    blocks: { type: 'string', default: '20000' },
    every: { type: 'string', default: '20' },
    'realtime-seconds': { type: 'string', default: '30' },
    modes: { type: 'string', default: 'off,sample,all' },
  },
});
const BLOCKS = Number(flags.blocks);
const EVERY = Number(flags.every);
const REALTIME_SECONDS = Number(flags['realtime-seconds']);
// "default" leaves crossCheck unset (so this script also runs against code without the setting).
const MODES = flags.modes.split(',').map((m) => m.trim());
const emitter = compileFixture('Emitter');
const say = (line: string) => process.stdout.write(`${line}\n`);

interface Counts {
  requests: number;
  calls: number;
  methods: Record<string, number>;
}

function counts(proxies: FaultProxy[]): Counts {
  const methods: Record<string, number> = {};
  for (const p of proxies) for (const [m, n] of p.stats.methods) methods[m] = (methods[m] ?? 0) + n;
  return { requests: proxies.reduce((s, p) => s + p.stats.requests, 0), calls: proxies.reduce((s, p) => s + p.stats.calls, 0), methods };
}

const per = (n: number, d: number) => Math.round((n / d) * 10) / 10;

async function main(): Promise<void> {
  const stack = await startStack();
  const chain = await startTestChain({ anvilArgs: FAST_MINING_ANVIL_ARGS });
  try {
    const address = await chain.deploy(emitter.abi, emitter.bytecode);
    let salt = 1n;
    const emit = async (count: number) => chain.send(address, emitter.abi, 'emitMany', [BigInt(count), salt++]);
    while (Number(await chain.publicClient.getBlockNumber()) < BLOCKS) {
      await emit(1 + Number(salt % 5n));
      await chain.mine(EVERY - 1);
    }
    const head = Number(await chain.publicClient.getBlockNumber());
    say(`chain: ${head + 1} blocks, a transaction of 1-5 logs every ${EVERY} blocks; two endpoints`);
    const rows: string[] = [];
    for (const mode of MODES) {
      const proxies = [await startFaultProxy(chain.url), await startFaultProxy(chain.url)];
      const name = uniqueName(`cost ${mode}`);
      const crossCheck = mode === 'default' ? {} : { crossCheck: mode };
      const worker = await startInProcessWorker(stack, { taskQueue: name, rpc: { [chain.chainId]: proxies.map((p) => p.url('/k')) } });
      try {
        // Backfill to a fixed end.
        const [backfill] = specsFrom({
          name,
          chains: { local: { id: chain.chainId, ...crossCheck } },
          contracts: [{ name: 'Emitter', chain: 'local', address, abi: emitter.abi, endBlock: head }],
        });
        const started = Date.now();
        await startIndexer(stack.client, backfill!, name);
        await eventually('backfill done', async () => ((await status(stack.client, backfill!)).mode === 'done' ? true : undefined), 600_000, 200);
        const b = counts(proxies);
        const k = (head + 1) / 1000;
        const bf = `backfill per 1,000 blocks: ${per(b.requests, k)} HTTP requests, ${per(b.calls, k)} calls (eth_getLogs ${per(b.methods.eth_getLogs ?? 0, k)}, eth_getBlockByNumber ${per(b.methods.eth_getBlockByNumber ?? 0, k)}, eth_blockNumber ${per(b.methods.eth_blockNumber ?? 0, k)}, eth_chainId ${per(b.methods.eth_chainId ?? 0, k)}) in ${((Date.now() - started) / 1000).toFixed(1)} s`;

        // Realtime from the head on: a block with logs every second.
        for (const p of proxies) p.resetCounts();
        const realtimeName = `${name}_rt`;
        const [realtime] = specsFrom({
          name: realtimeName,
          chains: { local: { id: chain.chainId, ...crossCheck } },
          contracts: [{ name: 'Emitter', chain: 'local', address, abi: emitter.abi, startBlock: head + 1 }],
        });
        await startIndexer(stack.client, realtime!, name);
        await eventually('realtime', async () => ((await status(stack.client, realtime!)).mode === 'realtime' ? true : undefined), 60_000, 100);
        for (const p of proxies) p.resetCounts();
        const from = Number(await chain.publicClient.getBlockNumber());
        for (let s = 0; s < REALTIME_SECONDS; s++) {
          await emit(1 + (s % 3));
          await new Promise((r) => setTimeout(r, 1_000));
        }
        const to = Number(await chain.publicClient.getBlockNumber());
        await eventually('caught up', async () => ((await status(stack.client, realtime!)).checkpoint >= to ? true : undefined), 60_000, 100);
        const r = counts(proxies);
        const blocks = to - from;
        const rt = `realtime per new block: ${per(r.requests, blocks)} HTTP requests, ${per(r.calls, blocks)} calls (eth_getLogs ${per(r.methods.eth_getLogs ?? 0, blocks)}, eth_getBlockByNumber ${per(r.methods.eth_getBlockByNumber ?? 0, blocks)}, eth_blockNumber ${per(r.methods.eth_blockNumber ?? 0, blocks)}, eth_chainId ${per(r.methods.eth_chainId ?? 0, blocks)}) over ${blocks} blocks`;
        rows.push(`crossCheck ${mode}:\n  ${bf}\n  ${rt}`);
        say(rows[rows.length - 1]!);
        await stack.client.workflow.getHandle(`indexer:${realtimeName}:${chain.chainId}`).terminate().catch(() => undefined);
      } finally {
        await worker.stop();
        for (const p of proxies) await p.stop();
      }
    }
  } finally {
    await chain.stop();
    await stack.stop();
  }
}

await main();
process.exit(0);
