/**
 * What each method's answer must look like before anything uses it. A check returns what is wrong
 * (the endpoint then failed: a malformed answer, policy.ts) or undefined. Pure.
 */

export interface RawLog {
  address: string;
  topics: string[];
  data: string;
  blockNumber: string;
  blockHash: string;
  transactionHash: string;
  transactionIndex?: string;
  /** Not every RPC gives it (it is newer than eth_getLogs); headers have it otherwise. */
  blockTimestamp?: string;
  logIndex: string;
  removed?: boolean;
}

export interface BlockHeader {
  number: number;
  hash: string;
  parentHash: string;
  timestamp: number;
  /** 256-byte bloom of the block's log addresses and topics; absent if the node does not serve it. */
  logsBloom?: string;
}

export interface LogFilter {
  fromBlock: number;
  toBlock: number;
  addresses: string[];
  topic0s: string[];
}

/** A block as eth_getBlockByNumber answers it (the fields we read), or null. */
export type RawBlock = Record<string, string> | null;
export type RawTransaction = Record<string, unknown> | null;

export const HEX = /^0x[0-9a-fA-F]*$/;
export const HASH = /^0x[0-9a-fA-F]{64}$/;

/** eth_chainId, eth_blockNumber. */
export const checkQuantity = (h: unknown) => (typeof h === 'string' && HEX.test(h) && h !== '0x' ? undefined : `not a hex quantity (${JSON.stringify(h)})`);

/** eth_getBlockByNumber(number): that block, with what a header needs. */
export function checkBlock(number: number | 'latest'): (b: RawBlock) => string | undefined {
  return (b) => {
    if (!b) return `block ${number} not found`;
    if (!HASH.test(b.hash ?? '') || !HASH.test(b.parentHash ?? '') || !HEX.test(b.number ?? '') || !HEX.test(b.timestamp ?? '')) {
      return `block ${number} lacks hash, parentHash, number or timestamp`;
    }
    if (number !== 'latest' && Number(BigInt(b.number!)) !== number) return `asked for block ${number}, got ${Number(BigInt(b.number!))}`;
    return undefined;
  };
}

/** eth_getBlockByNumber('latest') for the head probe: a number and a hash. */
export const checkLatest = (b: RawBlock) => (b && HEX.test(b.number ?? '') && b.number !== '0x' && HASH.test(b.hash ?? '') ? undefined : 'the latest block lacks number or hash');

/** A block that passed checkBlock, as the header we keep. */
export function toHeader(block: NonNullable<RawBlock>): BlockHeader {
  return {
    number: Number(BigInt(block.number!)),
    hash: block.hash!.toLowerCase(),
    parentHash: block.parentHash!.toLowerCase(),
    timestamp: Number(BigInt(block.timestamp!)),
    logsBloom: typeof block.logsBloom === 'string' ? block.logsBloom.toLowerCase() : undefined,
  };
}

/** eth_getTransactionByHash for each of `hashes`, in order: the transaction asked for, with its block, sender and value. */
export function checkTransactions(hashes: readonly string[]): (tx: RawTransaction, index: number) => string | undefined {
  return (tx, index) => {
    if (!tx || typeof tx !== 'object') return `transaction ${hashes[index]} not found`;
    if (String(tx.hash).toLowerCase() !== hashes[index]!.toLowerCase()) return `asked for transaction ${hashes[index]}, got ${String(tx.hash)}`;
    if (!HASH.test(String(tx.blockHash ?? '')) || !HEX.test(String(tx.from ?? '')) || !HEX.test(String(tx.value ?? ''))) return `transaction ${hashes[index]} lacks blockHash, from or value`;
    return undefined;
  };
}

/**
 * Fields of the last log that passed checkLog. Consecutive logs mostly share their block and
 * transaction, and a field equal to one already checked needs no pattern test: at a million logs
 * the tests were a tenth of the worker's time.
 */
interface CheckedFields {
  blockNumber?: string;
  blockHash?: string;
  block?: number;
  transactionHash?: string;
  topic0?: string;
}

/** What is wrong with an eth_getLogs answer to `filter`, if anything: a log we cannot trust is never stored. */
export function checkLogAnswer(logs: readonly RawLog[], filter: LogFilter): string | undefined {
  if (!Array.isArray(logs)) return 'not an array';
  const addresses = new Set(filter.addresses.map((a) => a.toLowerCase()));
  const topics = new Set(filter.topic0s.map((t) => t.toLowerCase()));
  const checked: CheckedFields = {};
  for (const log of logs) {
    const problem = checkLog(log, filter, addresses, topics, checked);
    if (problem) return problem;
  }
  return undefined;
}

function checkLog(log: RawLog, filter: LogFilter, addresses: Set<string>, topics: Set<string>, checked: CheckedFields): string | undefined {
  if (!log || typeof log !== 'object') return 'a log is not an object';
  if (log.removed === true) return 'a log is marked removed';
  const sameBlock = checked.blockNumber !== undefined && log.blockNumber === checked.blockNumber && log.blockHash === checked.blockHash;
  const sameTransaction = checked.transactionHash !== undefined && log.transactionHash === checked.transactionHash;
  if (!(sameBlock || HEX.test(log.blockNumber ?? '')) || !HEX.test(log.logIndex ?? '')) return 'a log lacks blockNumber or logIndex';
  if (!sameBlock && (!HASH.test(log.blockHash ?? '') || /^0x0+$/.test(log.blockHash))) return 'a log lacks a block hash';
  if (!sameTransaction && !HASH.test(log.transactionHash ?? '')) return 'a log lacks a transaction hash';
  if (typeof log.data !== 'string' || !HEX.test(log.data)) return 'a log lacks data';
  if (!Array.isArray(log.topics) || !log.topics.every((t, i) => (i === 0 && checked.topic0 !== undefined && t === checked.topic0) || HASH.test(t))) return 'a log has malformed topics';
  const block = sameBlock ? checked.block! : Number(BigInt(log.blockNumber));
  if (block < filter.fromBlock || block > filter.toBlock) return `a log of block ${block} is outside the requested ${filter.fromBlock}-${filter.toBlock}`;
  if (!addresses.has(String(log.address).toLowerCase())) return `a log from ${log.address} which was not asked for`;
  if (!topics.has(String(log.topics[0]).toLowerCase())) return `a log with topic0 ${log.topics[0]} which was not asked for`;
  checked.blockNumber = log.blockNumber;
  checked.blockHash = log.blockHash;
  checked.block = block;
  checked.transactionHash = log.transactionHash;
  checked.topic0 = log.topics[0];
  return undefined;
}
