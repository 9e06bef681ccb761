import { setTimeout as sleep } from 'node:timers/promises';
import { checkLogAnswer, type BlockHeader, type LogFilter, type RawLog } from './answers';
import { BloomMatcher, parseBloom } from './bloom';
import { describeBlocks, effectiveCrossCheck, isSampled, mergeLogAnswers, type LogAnswer } from './cross-check';
import { rpcDecision, rpcFailure } from './policy';
import type { Router } from './routing';

/**
 * eth_getLogs answers compared: with a second endpoint (`crossCheck`), and with the blocks'
 * logsBloom where the range's headers are at hand. The union of the answers is kept, an endpoint
 * caught omitting logs is counted and ranked last for a while, and answers that contradict each
 * other are a conflict (asked again). mergeLogAnswers (cross-check.ts) does the comparing.
 */

const blockOf = (log: RawLog) => Number(BigInt(log.blockNumber));

function logsRequest(filter: LogFilter): { params: unknown[]; check: (logs: RawLog[]) => string | undefined } {
  const params = [
    {
      fromBlock: `0x${filter.fromBlock.toString(16)}`,
      toBlock: `0x${filter.toBlock.toString(16)}`,
      address: filter.addresses,
      topics: [filter.topic0s],
    },
  ];
  return { params, check: (logs: RawLog[]) => checkLogAnswer(logs, filter) };
}

/** The range's answer from the best endpoint that has its blocks, or only from `source`. */
async function logsAnswer(router: Router, filter: LogFilter, source?: number): Promise<LogAnswer<RawLog>> {
  const { params, check } = logsRequest(filter);
  const { result, source: from } = await router.request(
    'eth_getLogs',
    filter.toBlock,
    (endpoint) => endpoint.call<RawLog[]>('eth_getLogs', params, check, { needs: filter.toBlock }),
    source === undefined ? undefined : [source],
  );
  return { source: from, logs: result };
}

/**
 * eth_getLogs with every answer checked (a log we cannot trust is a transient fault, never
 * stored), asked of a second endpoint too where `crossCheck` says so (the union is kept), and,
 * given the range's headers, re-asked for blocks whose logsBloom admits a configured address and
 * topic0 the answer holds no log of (recheckByBloom).
 */
export async function getComparedLogs(router: Router, filter: LogFilter, options: { headers?: ReadonlyMap<number, BlockHeader> } = {}): Promise<RawLog[]> {
  const mode = effectiveCrossCheck(router.view.crossCheck ?? router.shared.crossCheck, router.shared.endpoints.length);
  const compare = mode === 'all' || (mode === 'sample' && isSampled(filter.fromBlock, filter.toBlock));
  const answers = compare ? await comparedAnswers(router, filter) : [await logsAnswer(router, filter)];
  let logs: RawLog[];
  if (answers.length === 1) logs = answers[0]!.logs;
  else {
    const merged = mergeLogAnswers(answers);
    if (merged.conflict) throw rpcFailure('conflict', `eth_getLogs ${filter.fromBlock}-${filter.toBlock}: ${merged.conflict}; asking again`);
    for (const [source, omitted] of merged.omissions) {
      const others = answers.filter((a) => a.source !== source).map((a) => router.endpoint(a.source).label);
      caughtOmitting(router, source, `${router.endpoint(source).label} omitted ${omitted.logs} log(s) of block(s) ${describeBlocks(omitted.blocks)} that ${others.join(', ')} returned`);
    }
    logs = merged.logs;
  }
  if (options.headers) logs = await recheckByBloom(router, filter, logs, answers.map((a) => a.source), options.headers);
  return logs;
}

/** The range from this view's endpoint and, in parallel, from the best other one that has the blocks. */
async function comparedAnswers(router: Router, filter: LogFilter): Promise<Array<LogAnswer<RawLog>>> {
  const primary = (await router.candidates(filter.toBlock))[0]!;
  const second = router.endpointsHaving(filter.toBlock).find((i) => i !== primary);
  if (second === undefined) {
    // The others lag (or are out): go on with one answer, and count it.
    router.shared.stats.crossCheckSkipped += 1;
    return [await logsAnswer(router, filter)];
  }
  const [a, b] = await Promise.allSettled([logsAnswer(router, filter, primary), logsAnswer(router, filter, second)]);
  // A failure that another endpoint cannot fix (a range to split) ends the comparison.
  for (const r of [a, b]) if (r.status === 'rejected' && !rpcDecision(r.reason).failOver) throw r.reason;
  if (a.status === 'fulfilled' && b.status === 'fulfilled') {
    router.shared.stats.crossChecked += 1;
    return [a.value, b.value];
  }
  router.shared.stats.crossCheckSkipped += 1;
  // A pinned view never mixes: its own endpoint failed, so the view fails (the caller redoes it elsewhere).
  if (a.status === 'rejected' && router.view.pin !== undefined) throw a.reason;
  if (a.status === 'fulfilled') return [a.value];
  if (b.status === 'fulfilled') return [b.value];
  return [await logsAnswer(router, filter)];
}

function caughtOmitting(router: Router, source: number, what: string): void {
  const endpoint = router.endpoint(source);
  endpoint.recordOmission();
  router.note(`${what}: stored them, ${endpoint.label} demoted (${endpoint.health.omissions} omission${endpoint.health.omissions === 1 ? '' : 's'} so far)`);
}

/**
 * Blocks whose logsBloom admits a configured address and a configured topic0 for which the
 * answers held no log (unexplainedPairs: a block holding a Transfer of A but no Approval of A,
 * whose bloom admits A and Approval's topic, is one; holding other logs does not clear it): asked
 * again, one span over all of them per round, of an endpoint that has not answered yet where there
 * is one, else of the same one after a pause. A log found then was omitted by every endpoint that
 * answered before. Two endpoints agreeing, or the re-asks coming back without the pair, settle it:
 * a bloom false positive (normal: on busy blocks most are), accepted at the cost of a request or
 * two, never a stall. The bloom cannot reveal a second log of a pair the answer holds one of; that
 * is crossCheck's part.
 */
async function recheckByBloom(router: Router, filter: LogFilter, logs: RawLog[], answeredBy: number[], headers: ReadonlyMap<number, BlockHeader>): Promise<RawLog[]> {
  const matcher = new BloomMatcher(filter);
  // Headers of the range with a bloom, parsed once for every round.
  const blooms: Array<{ number: number; bloom: Uint8Array }> = [];
  for (const h of headers.values()) {
    if (h.number < filter.fromBlock || h.number > filter.toBlock) continue;
    const bloom = parseBloom(h.logsBloom);
    if (bloom) blooms.push({ number: h.number, bloom });
  }
  if (blooms.length === 0) return logs;
  const unexplainedBlocks = (among: ReadonlyArray<{ number: number; bloom: Uint8Array }>, answer: readonly RawLog[]) => {
    const byBlock = new Map<number, RawLog[]>();
    for (const log of answer) {
      const n = blockOf(log);
      let list = byBlock.get(n);
      if (!list) byBlock.set(n, (list = []));
      list.push(log);
    }
    return among.filter((b) => matcher.unexplained(b.bloom, byBlock.get(b.number) ?? [], 1).length > 0);
  };
  let suspicious = unexplainedBlocks(blooms, logs);
  if (suspicious.length === 0) return logs;
  const saidEmpty = new Set(answeredBy);
  const omitters = new Set(answeredBy);
  let merged = logs;
  const delays = router.shared.bloomRetryDelaysMs;
  for (let round = 0; suspicious.length > 0 && saidEmpty.size < 2 && round < delays.length; round++) {
    const from = Math.min(...suspicious.map((b) => b.number));
    const to = Math.max(...suspicious.map((b) => b.number));
    const having = router.endpointsHaving(to);
    let source = having.find((i) => !saidEmpty.has(i));
    if (source === undefined) {
      source = having[0];
      if (source === undefined) break;
      await sleep(delays[round]!);
    }
    router.shared.stats.bloomRechecks += 1;
    const { logs: result } = await logsAnswer(router, { ...filter, fromBlock: from, toBlock: to }, source);
    const inSpan = merged.filter((l) => blockOf(l) >= from && blockOf(l) <= to);
    const both = mergeLogAnswers([
      { source: -1, logs: inSpan },
      { source, logs: result },
    ]);
    if (both.conflict) throw rpcFailure('conflict', `eth_getLogs ${from}-${to} asked again: ${both.conflict}; asking again`);
    const found = both.omissions.get(-1);
    if (found) {
      const label = router.endpoint(source).label;
      for (const omitter of omitters) {
        caughtOmitting(
          router,
          omitter,
          `${router.endpoint(omitter).label} returned no log of an indexed address and topic0 that the logsBloom of block(s) ${describeBlocks(found.blocks)} admits; asked again, ${label} returned ${found.logs}`,
        );
      }
      merged = [...merged.filter((l) => blockOf(l) < from || blockOf(l) > to), ...both.logs].sort((x, y) => blockOf(x) - blockOf(y) || Number(BigInt(x.logIndex)) - Number(BigInt(y.logIndex)));
      suspicious = unexplainedBlocks(suspicious, both.logs);
    }
    if (both.omissions.has(source)) caughtOmitting(router, source, `${router.endpoint(source).label} asked again left out logs it or another endpoint had returned`);
    omitters.add(source);
    if (suspicious.length > 0) saidEmpty.add(source);
  }
  router.shared.stats.bloomFalsePositives += suspicious.length;
  return merged;
}
