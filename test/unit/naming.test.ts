import assert from 'node:assert/strict';
import { test } from 'node:test';
import { argumentColumns, eventTables } from '../../src/abi/layout';
import { snakeCase } from '../../src/abi/naming';
import { quoteIdent } from '../../src/db/identifiers';
import { canonicalType, columnKind, invalidTypeReason, type AbiEventItem } from '../../src/abi/solidity-types';

test('snake_case follows DESIGN.md examples', () => {
  assert.equal(snakeCase('tokenID'), 'token_id');
  assert.equal(snakeCase('fromAddress'), 'from_address');
  assert.equal(snakeCase('Transfer'), 'transfer');
  assert.equal(snakeCase('ERC20Token'), 'erc20_token');
  assert.equal(snakeCase('_from'), 'from');
  assert.equal(snakeCase('UniswapV2Pair'), 'uniswap_v2_pair');
  assert.equal(snakeCase('value1'), 'value1');
});

test('argument columns: unnamed → argN, collisions with common columns → arg_ prefix, duplicates made unique', () => {
  const event: AbiEventItem = {
    type: 'event',
    name: 'E',
    inputs: [
      { name: 'address', type: 'address' },
      { name: '', type: 'uint256' },
      { name: 'blockNumber', type: 'uint256' },
      { name: 'from', type: 'address' },
      { name: '_from', type: 'address' },
    ],
  };
  assert.deepEqual(
    argumentColumns(event).map((c) => c.name),
    ['arg_address', 'arg1', 'arg_block_number', 'from', 'from_4'],
  );
});

test('overloaded event names get the topic0 suffix, unique names none', () => {
  const transfer3: AbiEventItem = {
    type: 'event',
    name: 'Transfer',
    inputs: [
      { name: 'from', type: 'address', indexed: true },
      { name: 'to', type: 'address', indexed: true },
      { name: 'value', type: 'uint256' },
    ],
  };
  const transfer4: AbiEventItem = { ...transfer3, inputs: [...transfer3.inputs, { name: 'data', type: 'bytes' }] };
  const approval: AbiEventItem = { type: 'event', name: 'Approval', inputs: [] };
  const tables = eventTables('Token', [transfer3, transfer4, approval]).map((t) => t.table);
  assert.equal(tables[0], 'token_transfer_ddf252ad');
  assert.match(tables[1]!, /^token_transfer_[0-9a-f]{8}$/);
  assert.notEqual(tables[0], tables[1]);
  assert.equal(tables[2], 'token_approval');
});

test('column kinds map ABI types as DESIGN.md says', () => {
  assert.equal(columnKind({ type: 'uint8' }), 'int');
  assert.equal(columnKind({ type: 'int256' }), 'int');
  assert.equal(columnKind({ type: 'address' }), 'address');
  assert.equal(columnKind({ type: 'bool' }), 'bool');
  assert.equal(columnKind({ type: 'string' }), 'string');
  assert.equal(columnKind({ type: 'bytes' }), 'bytes');
  assert.equal(columnKind({ type: 'bytes32' }), 'bytes');
  assert.equal(columnKind({ type: 'uint256[]' }), 'json');
  assert.equal(columnKind({ type: 'tuple', components: [{ type: 'uint8' }] }), 'json');
  assert.equal(columnKind({ type: 'string', indexed: true }), 'topic');
  assert.equal(columnKind({ type: 'bytes', indexed: true }), 'topic');
  assert.equal(columnKind({ type: 'uint256[2]', indexed: true }), 'topic');
  assert.equal(columnKind({ type: 'tuple', indexed: true, components: [{ type: 'uint8' }] }), 'topic');
  assert.equal(columnKind({ type: 'bytes32', indexed: true }), 'bytes');
  assert.equal(columnKind({ type: 'uint256', indexed: true }), 'int');
});

test('invalid ABI types are named', () => {
  assert.match(invalidTypeReason({ type: 'uint7' }) ?? '', /integer width/);
  assert.match(invalidTypeReason({ type: 'foo' }) ?? '', /unknown type/);
  assert.match(invalidTypeReason({ type: 'bytes33' }) ?? '', /bytes length/);
  assert.match(invalidTypeReason({ type: 'tuple' }) ?? '', /no components/);
  assert.equal(invalidTypeReason({ type: 'uint256[][3]' }), undefined);
  assert.equal(canonicalType({ type: 'uint[]' }), 'uint256[]');
});

test('identifiers are validated before quoting', () => {
  assert.equal(quoteIdent('token_transfer'), '"token_transfer"');
  assert.throws(() => quoteIdent('x"; DROP TABLE y; --'));
  assert.throws(() => quoteIdent('Upper'));
});
