// The demo's handlers (`indexer dev` without a config): balances of the demo token, kept by the
// indexer from its Transfer events, exactly once and undone on reorgs. A plain module that imports
// nothing, like any handlers file (docs/handlers.md, "The handlers module"); see README, "Your own contracts".
const ZERO = '0x0000000000000000000000000000000000000000';

/** What the demo reads of its token from the chain (docs/handlers.md, "Reading the chain: client"). */
const erc20 = [
  { type: 'function', name: 'name', stateMutability: 'view', inputs: [], outputs: [{ type: 'string' }] },
  { type: 'function', name: 'symbol', stateMutability: 'view', inputs: [], outputs: [{ type: 'string' }] },
  { type: 'function', name: 'decimals', stateMutability: 'view', inputs: [], outputs: [{ type: 'uint8' }] },
];

/** A change for the store: the row's balance moved by `amount`, one more transfer. */
const credit = (amount) => (row) => ({ balance: (row?.balance ?? 0n) + amount, transfers: (row?.transfers ?? 0) + 1 });

export default {
  async setup({ db }) {
    await db.query(`create table if not exists balances (
      account text primary key,
      balance numeric(78,0) not null,
      transfers integer not null default 0)`);
    await db.query(`create table if not exists tokens (
      address text primary key,
      name text not null,
      symbol text not null,
      decimals integer not null,
      first_block bigint not null)`);
  },
  on: {
    async 'Token:Transfer'({ event, store, client }) {
      const { from, to, value } = event.args;
      const address = event.log.address;
      // On its first Transfer, the token's name, symbol and decimals, read at that block (cached:
      // a rebuild reads them from the cache, not the chain).
      if (!(await store.get('tokens', { address }))) {
        const [name, symbol, decimals] = await client.multicall({
          contracts: ['name', 'symbol', 'decimals'].map((functionName) => ({ address, abi: erc20, functionName })),
          allowFailure: false,
        });
        store.set('tokens', { address }, { name, symbol, decimals, first_block: BigInt(event.block.number) });
      }
      // Rows by primary key: each change is applied in order, and the batch writes every changed
      // row once (nothing to await).
      if (from !== ZERO) store.update('balances', { account: from }, credit(-value));
      store.update('balances', { account: to }, credit(value));
    },
  },
};
