import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { createPublicClient, decodeAbiParameters, decodeEventLog, http, toEventSelector, type Abi, type Address, type Hex } from 'viem';
import { emitter } from './dataset';

/**
 * Baselines without any orchestration, over the same blocks as the indexer: what the hardware
 * (anvil, PostgreSQL, two cores) allows. Chunks of 100 blocks, 3 in flight.
 * - getLogs:  eth_getLogs only (the RPC's ceiling)
 * - lean:     getLogs + a lean decode (event selector hashed once, indexed addresses sliced from
 *             topics, the data through decodeAbiParameters) + COPY
 * - viem:     getLogs + viem's decodeEventLog + COPY
 */
export type RawPipeline = 'getLogs' | 'lean' | 'viem';

const CHUNK_BLOCKS = 100;
const IN_FLIGHT = 3;
const TRANSFER = toEventSelector('Transfer(address,address,uint256)');

type Log = { data: Hex; topics: Hex[]; blockNumber: Hex; blockHash: Hex; logIndex: Hex; transactionHash: Hex; address: Address };

function leanLine(log: Log): string {
  if (log.topics[0] !== TRANSFER) throw new Error('not a Transfer');
  const from = `0x${log.topics[1]!.slice(26)}`;
  const to = `0x${log.topics[2]!.slice(26)}`;
  const [value] = decodeAbiParameters([{ type: 'uint256' }], log.data);
  return `31337\t${Number(log.blockNumber)}\t${log.blockHash}\t${Number(log.logIndex)}\t${log.transactionHash}\t${log.address.toLowerCase()}\t${from}\t${to}\t${value}\n`;
}

function viemLine(log: Log): string {
  const { args } = decodeEventLog({ abi: emitter.abi as Abi, data: log.data, topics: log.topics as [Hex, ...Hex[]] }) as unknown as { args: { from: string; to: string; value: bigint } };
  return `31337\t${BigInt(log.blockNumber)}\t${log.blockHash}\t${BigInt(log.logIndex)}\t${log.transactionHash}\t${log.address.toLowerCase()}\t${args.from.toLowerCase()}\t${args.to.toLowerCase()}\t${args.value}\n`;
}

export async function runRaw(kind: RawPipeline, rpcUrl: string, db: pg.Pool, address: Address, head: number): Promise<{ seconds: number; logs: number }> {
  const table = `bench_raw.transfer_${kind.toLowerCase()}`;
  await db.query('CREATE SCHEMA IF NOT EXISTS bench_raw');
  await db.query(`DROP TABLE IF EXISTS ${table}`);
  await db.query(`CREATE TABLE ${table} (chain_id bigint, block_number bigint, block_hash text, log_index integer, tx_hash text, address text,
    "from" text, "to" text, value numeric(78,0), PRIMARY KEY (chain_id, block_number, log_index))`);
  const client = createPublicClient({ transport: http(rpcUrl) });
  const ranges: Array<[number, number]> = [];
  for (let from = 0; from <= head; from += CHUNK_BLOCKS) ranges.push([from, Math.min(head, from + CHUNK_BLOCKS - 1)]);
  const line = kind === 'lean' ? leanLine : viemLine;
  let logs = 0;
  const started = Date.now();
  const worker = async () => {
    for (let r = ranges.shift(); r; r = ranges.shift()) {
      const found = (await client.request({ method: 'eth_getLogs', params: [{ address, fromBlock: `0x${r[0].toString(16)}`, toBlock: `0x${r[1].toString(16)}` }] })) as unknown as Log[];
      logs += found.length;
      if (kind === 'getLogs') continue;
      const text = found.map(line).join('');
      const conn = await db.connect();
      try {
        // One string: node streams write each chunk separately, and a write per row costs more than the decoding.
        await pipeline(Readable.from([text]), conn.query(copyFrom(`COPY ${table} FROM STDIN`)));
      } finally {
        conn.release();
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return { seconds: (Date.now() - started) / 1000, logs };
}
