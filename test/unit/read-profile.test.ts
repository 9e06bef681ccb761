import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createPublicClient, custom, erc20Abi, getAddress, parseAbi, type PublicClient } from 'viem';
import type { HandlerEvent } from '../../src/stages/handlers/event';
import { EventFields, ReadProfiles } from '../../src/stages/handlers/read-profile';

/** The requests viem itself makes for a handler's reads (what ChainReads' transport sees). */
function recordingClient(): { client: PublicClient; requests: Array<{ method: string; params: unknown[] }> } {
  const requests: Array<{ method: string; params: unknown[] }> = [];
  const client = createPublicClient({
    transport: custom({
      request: async ({ method, params }) => {
        if (method === 'eth_chainId') return '0x1';
        requests.push({ method, params: params as unknown[] });
        return method === 'eth_call' ? `0x${'0'.repeat(64)}` : '0x0';
      },
    }),
  });
  return { client, requests };
}

const BLOCK_POSITION: Record<string, number> = { eth_call: 1, eth_getBalance: 1, eth_getCode: 1, eth_getStorageAt: 2 };
const TOKEN = '0x5fbdb2315678afecb367f032d93f642f64180aa3';
const address = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => `0x${Buffer.from(b).toString('hex')}`);
const uint256 = fc.bigInt({ min: 0n, max: (1n << 256n) - 1n });

function transfer(block: number, from: string, to: string, value: bigint): HandlerEvent {
  return {
    chainId: 1,
    contract: 'Token',
    name: 'Transfer',
    args: { from, to, value },
    block: { number: block, hash: `0x${block.toString(16).padStart(64, '0')}`, timestamp: null },
    log: { index: 0, address: TOKEN },
    transaction: { hash: `0x${'ab'.repeat(32)}`, index: 0 },
  };
}

type Reads = (client: PublicClient, event: HandlerEvent) => Promise<unknown>;

/** Runs `reads` for each event as a handler would, teaching the profile; returns what it predicted beforehand for each. */
async function run(events: HandlerEvent[], reads: Reads) {
  const profiles = new ReadProfiles();
  const { client, requests } = recordingClient();
  const outcomes: Array<{ predicted: string[]; actual: string[] }> = [];
  for (const event of events) {
    const fields = new EventFields(event);
    const predicted = profiles.predict('Token:Transfer', () => fields, event.block.number).map((p) => JSON.stringify([p.method, p.params]));
    const before = requests.length;
    await reads(client, event);
    const made = requests.slice(before);
    made.forEach((r, ordinal) => {
      const position = BLOCK_POSITION[r.method]!;
      profiles.observe('Token:Transfer', ordinal, fields, event.block.number, r.method, r.params, position, Number(BigInt(r.params[position] as string)));
    });
    outcomes.push({ predicted, actual: made.map((r) => JSON.stringify([r.method, r.params])) });
  }
  return { outcomes, profiles };
}

test('reads of the event\'s own fields at its block are predicted exactly from the third event on (uint256 extremes, checksummed addresses, two reads of one function)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ from: address, to: address, value: uint256, gap: fc.integer({ min: 0, max: 3 }) }), { minLength: 3, maxLength: 12 }),
      async (rows) => {
        let block = 1_000_000;
        const events = rows.map((r) => transfer((block += r.gap), r.from, r.to, r.value));
        const { outcomes } = await run(events, async (client, event) => {
          const at = BigInt(event.block.number);
          await client.readContract({ address: TOKEN, abi: erc20Abi, functionName: 'balanceOf', args: [event.args.from as `0x${string}`], blockNumber: at });
          await client.readContract({ address: getAddress(TOKEN), abi: erc20Abi, functionName: 'balanceOf', args: [getAddress(event.args.to as string)], blockNumber: at });
          await client.readContract({ address: TOKEN, abi: erc20Abi, functionName: 'totalSupply', blockNumber: at - 1n });
          await client.getBalance({ address: getAddress(event.args.to as string), blockNumber: at });
        });
        assert.deepEqual(outcomes[0]!.predicted, []);
        assert.deepEqual(outcomes[1]!.predicted, []);
        // Two sightings can agree by chance (the same `to` twice): a part is taken for a field only
        // while it equalled one, so from the third event on every prediction is exact unless the
        // first two events shared a value the third does not.
        for (const [i, o] of outcomes.entries()) {
          if (i < 2) continue;
          const shared = rows[0]!.to === rows[1]!.to || rows[0]!.from === rows[1]!.from || events[0]!.block.number === events[1]!.block.number;
          if (!shared) assert.deepEqual(o.predicted, o.actual, `event ${i}`);
        }
      },
    ),
    { numRuns: 60 },
  );
});

test('a read whose arguments are not the event\'s fields keeps its constants; one computed from them is not predicted', async () => {
  const events = [1, 2, 3, 4].map((n) => transfer(500 + n, `0x${String(n).repeat(40)}`, `0x${String(n + 4).repeat(40)}`, 10n ** 18n * BigInt(n)));
  const abi = parseAbi(['function allowance(address owner, address spender) view returns (uint256)']);
  const spender = '0x00000000000000000000000000000000deadbeef';
  const { outcomes } = await run(events, async (client, event) => {
    await client.readContract({ address: TOKEN, abi, functionName: 'allowance', args: [event.args.from as `0x${string}`, spender], blockNumber: BigInt(event.block.number) });
    // The value doubled: no field of the event, so this read is left to the handler.
    await client.readContract({ address: TOKEN, abi: erc20Abi, functionName: 'balanceOf', args: [`0x${((event.args.value as bigint) * 2n).toString(16).padStart(40, '0')}`], blockNumber: BigInt(event.block.number) });
  });
  assert.deepEqual(outcomes[2]!.predicted, [outcomes[2]!.actual[0]]);
  assert.deepEqual(outcomes[3]!.predicted, [outcomes[3]!.actual[0]]);
});

test('a template whose predictions go mostly unasked is dropped', async () => {
  const profiles = new ReadProfiles();
  const { client, requests } = recordingClient();
  const events = [1, 2].map((n) => transfer(700 + n, `0x${'1'.repeat(40)}`, `0x${String(n + 1).repeat(40)}`, 1n));
  for (const event of events) {
    await client.readContract({ address: TOKEN, abi: erc20Abi, functionName: 'balanceOf', args: [event.args.to as `0x${string}`], blockNumber: BigInt(event.block.number) });
    const r = requests.at(-1)!;
    profiles.observe('Token:Transfer', 0, new EventFields(event), event.block.number, r.method, r.params, 1, event.block.number);
  }
  assert.equal(profiles.predicting, true);
  const [prediction] = profiles.predict('Token:Transfer', () => new EventFields(events[0]!), 701);
  profiles.judge(prediction!.template, 150, 100);
  assert.equal(profiles.predicting, true, 'judged on too few predictions yet');
  profiles.judge(prediction!.template, 150, 0);
  assert.equal(profiles.predicting, false);
  assert.deepEqual(profiles.predict('Token:Transfer', () => new EventFields(events[0]!), 701), []);
});
