import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { decodeEventLog, getAddress, keccak256, parseAbi, toHex, type Address, type PublicClient } from 'viem';

/**
 * The derived-data oracle for handler tests: balances and transfer counts per account computed
 * here from the canonical chain's eth_getLogs, written apart from the indexer and its handlers.
 */

const transferAbi = parseAbi(['event Transfer(address indexed from, address indexed to, uint256 value)']);

export interface Transfer {
  blockNumber: bigint;
  logIndex: number;
  address: string;
  from: string;
  to: string;
  value: bigint;
}

/** Every Transfer of the contracts on the canonical chain, in chain order. */
export async function chainTransfers(client: PublicClient, address: Address | Address[], toBlock?: bigint): Promise<Transfer[]> {
  const logs = await client.getLogs({ address, event: transferAbi[0], fromBlock: 0n, toBlock: toBlock ?? 'latest' });
  return logs.map((log) => {
    const { args } = decodeEventLog({ abi: transferAbi, data: log.data, topics: log.topics });
    return { blockNumber: log.blockNumber!, logIndex: log.logIndex!, address: log.address.toLowerCase(), from: args.from.toLowerCase(), to: args.to.toLowerCase(), value: args.value };
  });
}

/** The largest uint256, the largest value a Transfer can carry. */
export const MAX_UINT256 = 2n ** 256n - 1n;

/** A number from the hash of `parts`: deterministic, random-looking, independent of the indexer. */
function hashed(...parts: Array<string | number | bigint>): bigint {
  return BigInt(keccak256(toHex(parts.join(' '))));
}

/**
 * A token amount with 18 decimals derived from `seed`, as a real ERC-20 carries them: from 1 wei
 * up to just under 10^12 tokens (10^30 wei), the number of digits spread evenly, the last digit
 * never 0 (e.g. 48,213.000000104970531117 tokens), so any rounding through a double shows.
 * Odd and even.
 */
export function tokenAmount(seed: bigint | number | string): bigint {
  const h = hashed('amount', seed);
  const digits = 1n + (h % 30n); // 1 to 30 decimal digits: 1 wei to just under 10^30 wei
  const value = (h >> 16n) % 10n ** digits;
  return value % 10n === 0n ? value + 1n + ((h >> 8n) % 9n) : value;
}

/** Fresh, never-reused holder addresses: one per (label, n). */
export function freshHolder(label: string | bigint | number, n: number): Address {
  return getAddress(`0x${(hashed('holder', label, n) % 2n ** 160n).toString(16).padStart(40, '0')}`);
}

export interface TransferBatch {
  to: Address[];
  values: bigint[];
}

/**
 * Arguments of test/fixtures/Emitter.sol's `emitTransfers(to, values)`: `count` transfers derived
 * from `salt`, with 18-decimal amounts (tokenAmount) to recipients among twelve shared holders and
 * `also` (e.g. the senders themselves), so balances add up to around 10^28 and senders also receive.
 * The first `nearMax` transfers carry values at 2^256-1, 2^256-2, … instead, each to a fresh holder
 * of its own: no balance ever sums two of them, since numeric(78,0) holds up to 10^78-1 ≈ 8.6 ×
 * 2^256 (a sender's balance goes near -2^256 per such value: give each sender only a few).
 */
export function transferBatch(salt: bigint | number, count: number, options: { nearMax?: number; also?: readonly Address[] } = {}): TransferBatch {
  const shared = Array.from({ length: 12 }, (_, n) => freshHolder('shared', n));
  const recipients = [...shared, ...(options.also ?? [])];
  const to: Address[] = [];
  const values: bigint[] = [];
  for (let i = 0; i < count; i++) {
    if (i < (options.nearMax ?? 0)) {
      to.push(freshHolder(`near-max ${salt}`, i));
      values.push(MAX_UINT256 - BigInt(i) - (BigInt(salt) % 3n));
    } else {
      to.push(recipients[Number(hashed('recipient', salt, i) % BigInt(recipients.length))]!);
      values.push(tokenAmount(`${salt}:${i}`));
    }
  }
  return { to, values };
}

export interface Balances {
  balances: Map<string, string>;
  counts: Map<string, { sent: number; received: number }>;
}

export function expectedBalances(transfers: Transfer[]): Balances {
  const balances = new Map<string, bigint>();
  const counts = new Map<string, { sent: number; received: number }>();
  for (const t of transfers) {
    balances.set(t.from, (balances.get(t.from) ?? 0n) - t.value);
    balances.set(t.to, (balances.get(t.to) ?? 0n) + t.value);
    const from = counts.get(t.from) ?? { sent: 0, received: 0 };
    from.sent += 1;
    counts.set(t.from, from);
    const to = counts.get(t.to) ?? { sent: 0, received: 0 };
    to.received += 1;
    counts.set(t.to, to);
  }
  return { balances: new Map([...balances].map(([k, v]) => [k, v.toString()])), counts };
}

export async function storedBalances(db: pg.Pool, schema: string): Promise<Balances> {
  const b = await db.query<{ account: string; balance: string }>(`SELECT account, balance::text AS balance FROM "${schema}".balances`);
  const c = await db.query<{ account: string; sent: number; received: number }>(`SELECT account, sent, received FROM "${schema}".transfer_counts`);
  return {
    balances: new Map(b.rows.map((r) => [r.account, r.balance])),
    counts: new Map(c.rows.map((r) => [r.account, { sent: r.sent, received: r.received }])),
  };
}

/** Sorted plain objects, so assert.deepStrictEqual prints a readable difference. */
export function comparable(b: Balances): { balances: Array<[string, string]>; counts: Array<[string, { sent: number; received: number }]> } {
  return { balances: [...b.balances].sort(([a], [c]) => a.localeCompare(c)), counts: [...b.counts].sort(([a], [c]) => a.localeCompare(c)) };
}

/**
 * A balances handlers module for the test contract, written as a plain .mjs file that imports
 * nothing: a balance per side of a transfer, and with `counts` also transfer counts per account.
 * `via: "store"` changes rows through the handlers' store (the README's example); `via: "sql"`
 * runs an upsert per change, not awaited, so the statements are pipelined.
 */
function balancesModule({ counts, via }: { counts: boolean; via: 'store' | 'sql' }): string {
  const countsTable = `
    await db.query('create table if not exists transfer_counts (account text primary key, sent integer not null default 0, received integer not null default 0)');`;
  const sql = {
    balances: `
      const add = 'insert into balances values ($1, $2) on conflict (account) do update set balance = balances.balance + excluded.balance';
      // Results not needed: not awaited, so the statements are pipelined (still run in order, and the batch waits for them).
      db.query(add, [from, (-value).toString()]);
      db.query(add, [to, value.toString()]);`,
    counts: `
      db.query('insert into transfer_counts (account, sent) values ($1, 1) on conflict (account) do update set sent = transfer_counts.sent + 1', [from]);
      db.query('insert into transfer_counts (account, received) values ($1, 1) on conflict (account) do update set received = transfer_counts.received + 1', [to]);`,
  };
  const store = {
    balances: `
      store.update('balances', { account: from }, (row) => ({ balance: (row?.balance ?? 0n) - value }));
      store.update('balances', { account: to }, (row) => ({ balance: (row?.balance ?? 0n) + value }));`,
    counts: `
      store.update('transfer_counts', { account: from }, (row) => ({ sent: (row?.sent ?? 0) + 1 }));
      store.update('transfer_counts', { account: to }, (row) => ({ received: (row?.received ?? 0) + 1 }));`,
  };
  const body = via === 'store' ? store : sql;
  return `
export default {
  async setup({ db }) {
    await db.query('create table if not exists balances (account text primary key, balance numeric(78,0) not null)');${counts ? countsTable : ''}
  },
  on: {
    async 'Emitter:Transfer'({ event, db, store }) {
      const { from, to, value } = event.args;${body.balances}${counts ? body.counts : ''}
    },
  },
};
`;
}

/** Balances and transfer counts, one pipelined upsert per change: what the handler tests compare with the chain. */
export const BALANCES_HANDLERS = balancesModule({ counts: true, via: 'sql' });

/** Balances and transfer counts through the store. */
export const STORE_BALANCES_HANDLERS = balancesModule({ counts: true, via: 'store' });

/** The README's balances handler (through the store): the benchmark's headline handler. */
export const README_BALANCES_HANDLERS = balancesModule({ counts: false, via: 'store' });

/** The README's balances handler as pipelined upserts: the benchmark's comparison. */
export const SQL_BALANCES_HANDLERS = balancesModule({ counts: false, via: 'sql' });

export function writeModule(dir: string, file: string, text: string): string {
  const full = path.join(dir, file);
  writeFileSync(full, text);
  return full;
}
