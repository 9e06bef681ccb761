import assert from 'node:assert/strict';
import { test } from 'node:test';
import { copyCell, copyChunks } from '../../src/db/writer';

test('COPY text cells: NULL, booleans, and the characters COPY would misread are escaped', () => {
  assert.equal(copyCell(null), '\\N');
  assert.equal(copyCell(true), 't');
  assert.equal(copyCell(false), 'f');
  assert.equal(copyCell(12345678901234567890n), '12345678901234567890');
  assert.equal(copyCell('a\tb\nc\rd\\e'), 'a\\tb\\nc\\rd\\\\e');
  assert.equal(copyCell('{"k":"v\\\\n"}'), '{"k":"v\\\\\\\\n"}');
});

test('COPY chunks: every row once, in order, one line each, in chunks of bounded size', () => {
  const rows = Array.from({ length: 5_000 }, (_, i) => [i, `0x${i.toString(16).padStart(40, '0')}`, i % 2 === 0 ? null : 'a\tb']);
  const chunks = [...copyChunks(rows)];
  assert.ok(chunks.length > 1, 'several chunks for 5,000 rows');
  for (const chunk of chunks) assert.ok(chunk.endsWith('\n') && chunk.length < 64 * 1024 + 200, 'chunks end on a row and stay near 64 KiB');
  const lines = chunks.join('').split('\n').slice(0, -1);
  assert.deepEqual(lines, rows.map((row) => row.map(copyCell).join('\t')));
  assert.deepEqual([...copyChunks([])], []);
});
