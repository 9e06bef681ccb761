import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventTables } from '../../src/abi/layout';
import { commonValue, copyCell, copyChunks, copyLineOf } from '../../src/db/writer';
import type { DecodedLog } from '../../src/indexing/log-router';

test('COPY text cells: NULL, booleans, and the characters COPY would misread are escaped', () => {
  assert.equal(copyCell(null), '\\N');
  assert.equal(copyCell(true), 't');
  assert.equal(copyCell(false), 'f');
  assert.equal(copyCell(12345678901234567890n), '12345678901234567890');
  assert.equal(copyCell('a\tb\nc\rd\\e'), 'a\\tb\\nc\\rd\\\\e');
  assert.equal(copyCell('{"k":"v\\\\n"}'), '{"k":"v\\\\\\\\n"}');
});

test('COPY chunks: every line once, in order, in chunks of bounded size', () => {
  const lines = Array.from({ length: 5_000 }, (_, i) => `${i}\t0x${i.toString(16).padStart(40, '0')}\t${i % 2 === 0 ? '\\N' : 'a\\tb'}\n`);
  const chunks = [...copyChunks(lines)];
  assert.ok(chunks.length > 1, 'several chunks for 5,000 lines');
  for (const chunk of chunks) assert.ok(chunk.endsWith('\n') && chunk.length < 64 * 1024 + 200, 'chunks end on a line and stay near 64 KiB');
  assert.equal(chunks.join(''), lines.join(''));
  assert.deepEqual([...copyChunks([])], []);
});

test('COPY lines: equal to every cell escaped, for every column kind, with and without transaction fields', () => {
  const event = {
    type: 'event' as const,
    name: 'Everything',
    inputs: [
      { name: 'who', type: 'address', indexed: true },
      { name: 'label', type: 'string', indexed: true },
      { name: 'amount', type: 'uint256', indexed: false },
      { name: 'delta', type: 'int64', indexed: false },
      { name: 'ok', type: 'bool', indexed: false },
      { name: 'note', type: 'string', indexed: false },
      { name: 'blob', type: 'bytes', indexed: false },
      { name: 'pair', type: 'tuple', indexed: false, components: [{ name: 's', type: 'string' }] },
      { name: 'list', type: 'uint8[]', indexed: false },
    ],
  };
  const awkward = ['plain', 'tab\there', 'new\nline', 'carriage\rreturn', 'back\\slash', '\\N', ''];
  for (const includeTransaction of [false, true]) {
    const [table] = eventTables('Sample', [event], { includeTransaction });
    // One line function for all the logs, as a range uses it: what it remembers between logs is exercised.
    const line = copyLineOf(table!, 31337);
    awkward.forEach((text, i) => {
      const log: DecodedLog = {
        table: table!.table,
        blockNumber: 100 + i,
        blockHash: `0x${'ab'.repeat(32)}`,
        blockTimestamp: i % 3 === 2 ? null : 1_700_000_000 + Math.floor(i / 2),
        logIndex: i,
        txHash: `0x${'cd'.repeat(32)}`,
        txIndex: i % 3 === 0 ? null : i,
        address: `0x${'12'.repeat(20)}`,
        args: [`0x${'34'.repeat(20)}`, `0x${'56'.repeat(32)}`, '1'.repeat(70), '-42', i % 2 === 0, text, '0x', JSON.stringify({ s: text }), i === 0 ? null : '[1,2]'],
        ...(includeTransaction ? { transaction: { from: `0x${'78'.repeat(20)}`, to: i === 1 ? null : text, value: '7' } } : {}),
      };
      const cells = [...table!.common.map((c) => commonValue(c.name, 31337, log)), ...log.args];
      assert.equal(line(log), `${cells.map(copyCell).join('\t')}\n`, `${JSON.stringify(text)}, transaction fields ${includeTransaction}`);
    });
  }
});
