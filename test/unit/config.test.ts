import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load';
import { buildSpecs } from '../../src/config/resolve';
import { InvalidConfigError } from '../../src/errors';

const transfer = {
  type: 'event',
  name: 'Transfer',
  inputs: [
    { name: 'from', type: 'address', indexed: true },
    { name: 'to', type: 'address', indexed: true },
    { name: 'value', type: 'uint256', indexed: false },
  ],
};
const base = {
  name: 'demo',
  chains: { local: { id: 31337, rpc: 'http://127.0.0.1:8545' } },
  contracts: [{ name: 'Token', chain: 'local', address: '0x5FbDB2315678afecb367f032d93F642f64180aa3', abi: [transfer] }],
};

function errorOf(config: unknown): string {
  try {
    buildSpecs(parseConfig(config, process.cwd()), () => undefined);
  } catch (error) {
    assert.ok(error instanceof InvalidConfigError, `expected InvalidConfigError, got ${String(error)}`);
    assert.ok(!error.shortMessage.includes('\n'), 'one line');
    return error.shortMessage;
  }
  throw new Error('config was accepted');
}

test('a valid config gives one spec per chain, with defaults and without the RPC URL', () => {
  const [spec, ...rest] = buildSpecs(parseConfig(base, process.cwd()), () => undefined);
  assert.equal(rest.length, 0);
  assert.equal(spec!.chainId, 31337);
  assert.deepStrictEqual(spec!.tuning, { confirmations: 0, pollIntervalMs: 1000, maxBlockRange: 2000, maxInFlight: 4, maxReorgDepth: 64, rpcTimeoutMs: 30_000, rpcRequestsPerSecond: undefined, maxAddressesPerRequest: 500 });
  assert.deepEqual(spec!.contracts[0]!.addresses, ['0x5fbdb2315678afecb367f032d93f642f64180aa3']);
  assert.ok(!JSON.stringify(spec).includes('8545'), 'the spec (workflow input) never carries RPC URLs');
});

test('mistakes name the field and what is wrong', () => {
  assert.match(errorOf({ ...base, name: 'Bad-Name' }), /^config\.name: must match/);
  assert.match(errorOf({ ...base, contracts: [{ ...base.contracts[0], address: '0x123' }] }), /^config\.contracts\[0\]\.address/);
  assert.match(errorOf({ ...base, contracts: [{ ...base.contracts[0], chain: 'mainnet' }] }), /unknown chain "mainnet"/);
  assert.match(errorOf({ ...base, contracts: [{ ...base.contracts[0], events: ['Approval'] }] }), /no event "Approval" in the ABI \(it has: Transfer\)/);
  assert.match(
    errorOf({ ...base, contracts: [{ ...base.contracts[0], abi: [{ ...transfer, inputs: [{ name: 'x', type: 'uint7' }] }] }] }),
    /event Transfer: bad integer width in "uint7"/,
  );
  assert.match(errorOf({ ...base, contracts: [{ ...base.contracts[0], abi: './missing.json' }] }), /missing\.json: file not found/);
  assert.match(errorOf({ ...base, chains: { local: { id: 0 } } }), /config\.chains\.local\.id/);
  assert.match(errorOf({ ...base, contracts: [{ ...base.contracts[0], startBlock: 10, endBlock: 5 }] }), /endBlock: 5 is below startBlock 10/);
  assert.match(errorOf({ ...base, extra: 1 }), /config: Unrecognized key/i);
});

test('anonymous events: skipped with a warning by default, an error when selected', () => {
  const anon = { type: 'event', name: 'Anon', anonymous: true, inputs: [{ name: 'x', type: 'uint256' }] };
  const warnings: string[] = [];
  const config = { ...base, contracts: [{ ...base.contracts[0], abi: [transfer, anon] }] };
  const [spec] = buildSpecs(parseConfig(config, process.cwd()), (w) => warnings.push(w));
  assert.deepEqual(spec!.contracts[0]!.events.map((e) => e.name), ['Transfer']);
  assert.match(warnings[0] ?? '', /skipping anonymous event Anon/);
  assert.match(errorOf({ ...base, contracts: [{ ...base.contracts[0], abi: [transfer, anon], events: ['Anon'] }] }), /anonymous/);
});

test('events are selected by name (every overload) or by canonical signature, whatever alias the ABI spells', () => {
  const legacy = { ...transfer, inputs: transfer.inputs.map((i) => (i.name === 'value' ? { ...i, type: 'uint' } : i)) };
  const withData = { ...transfer, inputs: [...transfer.inputs, { name: 'data', type: 'bytes', indexed: false }] };
  const tables = (events?: string[]) => {
    const [spec] = buildSpecs(parseConfig({ ...base, contracts: [{ ...base.contracts[0], abi: [legacy, withData], events }] }, process.cwd()), () => undefined);
    return spec!.contracts[0]!.events.map((e) => e.inputs.map((i) => i.type).join(','));
  };
  assert.deepEqual(tables(['Transfer(address,address,uint256)']), ['address,address,uint256']);
  assert.deepEqual(tables(['Transfer(address, address, uint256, bytes)']), ['address,address,uint256,bytes']);
  assert.deepEqual(tables(['Transfer']), ['address,address,uint256', 'address,address,uint256,bytes']);
  assert.deepEqual(tables(), ['address,address,uint256', 'address,address,uint256,bytes']);
  assert.match(errorOf({ ...base, contracts: [{ ...base.contracts[0], events: ['Transfer(address,address,uint8)'] }] }), /no event "Transfer\(address,address,uint8\)"/);
});
