import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keccak256, toBytes } from 'viem';
import { eventSignature, parseEventInputs, type AbiEvent } from '../../src/abi/event-abi';
import { TRANSFER_EVENT } from '../helpers/abis';
import { argumentColumns, columnKind, eventTables } from '../../src/abi/layout';
import { snakeCase } from '../../src/abi/naming';
import { quoteIdent } from '../../src/db/identifiers';

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
  const event: AbiEvent = {
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
  const transfer3 = TRANSFER_EVENT;
  const transfer4: AbiEvent = { ...transfer3, inputs: [...transfer3.inputs, { name: 'data', type: 'bytes' }] };
  const approval: AbiEvent = { type: 'event', name: 'Approval', inputs: [] };
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

test('invalid ABI types are named in one line', () => {
  const reason = (inputs: unknown) => {
    const parsed = parseEventInputs(inputs);
    return 'reason' in parsed ? parsed.reason : undefined;
  };
  assert.equal(reason([{ name: 'x', type: 'uint7' }]), 'bad integer width in "uint7"');
  assert.equal(reason([{ name: 'x', type: 'int264[]' }]), 'bad integer width in "int264[]"');
  assert.equal(reason([{ name: 'x', type: 'foo' }]), 'unknown type "foo"');
  assert.equal(reason([{ name: 'x', type: 'bytes33' }]), 'bad bytes length in "bytes33"');
  assert.equal(reason([{ name: 'x', type: 'tuple' }]), 'tuple "x" has no components');
  assert.equal(reason([{ name: 'x', type: 'tuple[]', components: [] }]), 'tuple "x" has no components');
  assert.equal(reason([{ name: 'x', type: 'tuple', components: [{ name: 'a', type: 'uint8' }, { name: 'b', type: 'bytes0' }] }]), 'bad bytes length in "bytes0"');
  assert.equal(reason([{ name: 'x', type: 'uint256[0]' }]), 'zero-length array in "uint256[0]"');
  assert.equal(reason([{ name: 'x', type: 'uint256[2][00]' }]), 'zero-length array in "uint256[2][00]"');
  assert.equal(reason([{ name: 'x', type: 'uint256[01]' }]), 'bad array length in "uint256[01]"');
  assert.equal(reason([{ name: 'x', type: 'function' }]), 'function-typed arguments are not supported ("function")');
  assert.equal(reason([{ name: 'x', type: 'uint256', indexed: 'yes' }]), 'inputs[0].indexed: Invalid input: expected boolean, received string');
  assert.match(reason('not a list') ?? '', /^inputs: /);
  assert.equal(reason([{ name: 'x', type: 'uint256[2' }]), 'bad array suffix in "uint256[2"');
  assert.equal(reason([{ name: 'x' }]), 'argument "x" has no type');
  assert.equal(reason([{ type: 'uint256' }, { type: 7 }]), 'argument #1 has no type');
  for (const r of [reason([{ type: 'uint7' }]), reason([{ name: 'x', type: 'uint256', indexed: 1 }])]) assert.ok(!r?.includes('\n'), 'one line');
  assert.equal(reason([{ name: 'x', type: 'uint256[][3]' }, { name: 'y', type: 'tuple[2]', components: [{ name: 'z', type: 'bytes' }] }]), undefined);
  assert.equal(reason(undefined), undefined, 'an event without inputs is fine');
});

test('parsed inputs keep only what matters and spell uint/int aliases canonically', () => {
  const parsed = parseEventInputs([
    { name: 'a', type: 'uint', indexed: false, internalType: 'uint256' },
    { name: 'b', type: 'int[2][]', indexed: true },
    { type: 'tuple[]', components: [{ name: 'c', type: 'uint', internalType: 'x' }] },
  ]);
  assert.deepStrictEqual(parsed, {
    inputs: [
      { name: 'a', type: 'uint256' },
      { name: 'b', type: 'int256[2][]', indexed: true },
      { name: '', type: 'tuple[]', components: [{ name: 'c', type: 'uint256' }] },
    ],
  });
});

test('signatures and topic0 are the canonical ones: tuples expanded, arrays of tuples, uint/int aliases', () => {
  const event: AbiEvent = {
    type: 'event',
    name: 'E',
    inputs: [
      { name: 'a', type: 'uint', indexed: true },
      { name: 'b', type: 'int[]' },
      { name: 't', type: 'tuple[2][]', components: [{ name: 'x', type: 'uint8' }, { name: 'y', type: 'tuple', components: [{ name: '', type: 'bytes' }, { name: 'z', type: 'string[3]' }] }] },
    ],
  };
  const canonical = 'E(uint256,int256[],(uint8,(bytes,string[3]))[2][])';
  assert.equal(eventSignature(event), canonical);
  const [table] = eventTables('C', [event]);
  assert.equal(table!.signature, canonical);
  assert.equal(table!.topic0, keccak256(toBytes(canonical)), 'topic0 is the hash of the canonical signature, not of the types as written');
  assert.equal(table!.event.inputs[0]!.type, 'uint256', 'the table carries the canonical event');
});

test('identifiers are validated before quoting', () => {
  assert.equal(quoteIdent('token_transfer'), '"token_transfer"');
  assert.throws(() => quoteIdent('x"; DROP TABLE y; --'));
  assert.throws(() => quoteIdent('Upper'));
});
