import assert from 'node:assert/strict';
import { test } from 'node:test';
import { copyCell } from '../../src/db/writer';

test('COPY text cells: NULL, booleans, and the characters COPY would misread are escaped', () => {
  assert.equal(copyCell(null), '\\N');
  assert.equal(copyCell(true), 't');
  assert.equal(copyCell(false), 'f');
  assert.equal(copyCell(12345678901234567890n), '12345678901234567890');
  assert.equal(copyCell('a\tb\nc\rd\\e'), 'a\\tb\\nc\\rd\\\\e');
  assert.equal(copyCell('{"k":"v\\\\n"}'), '{"k":"v\\\\\\\\n"}');
});
