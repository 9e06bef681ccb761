import assert from 'node:assert/strict';
import { test } from 'node:test';
import { columnValue, jsonValue } from '../../src/abi/encode';
import { argumentColumns } from '../../src/abi/layout';

test('scalars: integers as decimal strings, hex lowercase, NUL removed from strings', () => {
  const [int, addr, str, bytes] = argumentColumns({
    type: 'event',
    name: 'E',
    inputs: [
      { name: 'a', type: 'int256' },
      { name: 'b', type: 'address' },
      { name: 'c', type: 'string' },
      { name: 'd', type: 'bytes4' },
    ],
  });
  assert.equal(columnValue(int!, -(2n ** 255n)), '-57896044618658097711785492504343953926634992332820282019728792003956564819968');
  assert.equal(columnValue(addr!, '0xABCDEFabcdefABCDEFabcdefABCDEFabcdefABCD'), '0xabcdefabcdefabcdefabcdefabcdefabcdefabcd');
  assert.equal(columnValue(str!, 'a\u0000b'), 'ab');
  assert.equal(columnValue(bytes!, '0xDEADBEEF'), '0xdeadbeef');
});

test('tuples become objects keyed by component name, positional where unnamed', () => {
  const param = {
    type: 'tuple[]',
    components: [
      { name: 'amount', type: 'uint256' },
      { name: '', type: 'address' },
      { name: 'inner', type: 'tuple', components: [{ name: 'flag', type: 'bool' }, { name: 'tags', type: 'bytes2[]' }] },
    ],
  };
  const value = [[5n, '0xAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', { flag: true, tags: ['0xABCD'] }]];
  assert.deepEqual(jsonValue(param, value), [{ amount: '5', '1': '0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', inner: { flag: true, tags: ['0xabcd'] } }]);
});
