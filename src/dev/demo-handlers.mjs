// The demo's handlers (`indexer dev` without a config): balances of the demo token, kept by the
// indexer from its Transfer events, exactly once and undone on reorgs. A plain module that imports
// nothing, like any handlers file (DESIGN.md, "Handlers"); see README, "Your own contracts".
const ZERO = '0x0000000000000000000000000000000000000000';
const credit = `insert into balances (account, balance, transfers) values ($1, $2, 1)
                on conflict (account) do update set balance = balances.balance + excluded.balance, transfers = balances.transfers + 1`;

export default {
  async setup({ db }) {
    await db.query(`create table if not exists balances (
      account text primary key,
      balance numeric(78,0) not null,
      transfers integer not null default 0)`);
  },
  on: {
    async 'Token:Transfer'({ event, db }) {
      const { from, to, value } = event.args;
      // Not awaited: no result is needed, so the statements are pipelined; they still run in order,
      // and the batch commits only when all of them have (a failing one fails this event).
      if (from !== ZERO) db.query(credit, [from, (-value).toString()]);
      db.query(credit, [to, value.toString()]);
    },
  },
};
