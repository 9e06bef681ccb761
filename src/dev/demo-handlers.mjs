// The demo's handlers (`indexer dev` without a config): balances of the demo token, kept by the
// indexer from its Transfer events, exactly once and undone on reorgs. A plain module that imports
// nothing, like any handlers file (docs/handlers.md, "The handlers module"); see README, "Your own contracts".
const ZERO = '0x0000000000000000000000000000000000000000';

/** A change for the store: the row's balance moved by `amount`, one more transfer. */
const credit = (amount) => (row) => ({ balance: (row?.balance ?? 0n) + amount, transfers: (row?.transfers ?? 0) + 1 });

export default {
  async setup({ db }) {
    await db.query(`create table if not exists balances (
      account text primary key,
      balance numeric(78,0) not null,
      transfers integer not null default 0)`);
  },
  on: {
    async 'Token:Transfer'({ event, store }) {
      const { from, to, value } = event.args;
      // Rows by primary key: each change is applied in order, and the batch writes every changed
      // row once (nothing to await).
      if (from !== ZERO) store.update('balances', { account: from }, credit(-value));
      store.update('balances', { account: to }, credit(value));
    },
  },
};
