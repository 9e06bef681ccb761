import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeAbiParameters, encodeEventTopics, keccak256, toEventSelector, type AbiParameter, type Hex } from 'viem';
import { EventDecoder } from '../../src/abi/decode';
import type { AbiEvent } from '../../src/abi/event-abi';
import { TRANSFER_EVENT } from '../helpers/abis';
import { eventTables } from '../../src/abi/layout';
import { AbiDecodeError } from '../../src/errors';
import { ViemEventDecoder } from '../helpers/viem-decoder';

/**
 * The decoder (src/abi/readers.ts) against the one it replaced, viem's decodeAbiParameters plus the
 * cell conversion (test/helpers/viem-decoder.ts): random events of every ABI type, random values
 * encoded with viem, cells compared exactly. Seeded, so a failure names a case that can be re-run.
 */

const SEED = Number(process.env.DECODE_TEST_SEED ?? 20261201);
const where = () => 'log 3 of block 7 from 0x00000000000000000000000000000000000000c0';

function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    // mulberry32
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const hex = (bytes: number) => {
    let out = '0x';
    for (let i = 0; i < bytes; i++) out += int(256).toString(16).padStart(2, '0');
    return out as Hex;
  };
  const bits = (n: number) => (n === 0 ? 0n : BigInt(hex(Math.ceil(n / 8))) & ((1n << BigInt(n)) - 1n));
  return { next, int, hex, bits, pick: <T>(items: readonly T[]) => items[int(items.length)]! };
}
type Rng = ReturnType<typeof rng>;

type Param = AbiParameter & { components?: readonly Param[]; indexed?: boolean };

const NAMES = ['a', 'b', 'value', 'tokenID', 'from', 'to', 'data', 'x', 'inner', 'amount', 'flag', 'id'];

function randomType(r: Rng, depth: number): Param {
  const roll = r.int(depth > 0 ? 12 : 9);
  switch (roll) {
    case 0:
    case 1:
      return { type: `uint${8 * (1 + r.int(32))}` } as Param;
    case 2:
    case 3:
      return { type: `int${8 * (1 + r.int(32))}` } as Param;
    case 4:
      return { type: 'address' };
    case 5:
      return { type: 'bool' };
    case 6:
      return { type: `bytes${1 + r.int(32)}` } as Param;
    case 7:
      return { type: 'bytes' };
    case 8:
      return { type: 'string' };
    case 9:
    case 10: {
      const element = randomType(r, depth - 1);
      return { ...element, type: `${element.type}[${r.int(3) === 0 ? '' : 1 + r.int(3)}]` } as Param;
    }
    default: {
      const count = 1 + r.int(4);
      const used = new Set<string>();
      const components: Param[] = [];
      for (let i = 0; i < count; i++) {
        let name = r.int(3) === 0 ? '' : r.pick(NAMES);
        if (used.has(name)) name = '';
        if (name) used.add(name);
        components.push({ ...randomType(r, depth - 1), name });
      }
      return { type: 'tuple', components } as Param;
    }
  }
}

const STRING_PIECES = ['a', 'Transfer', ' ', 'é', '€', '中文', '😀', '\u0000', '\uFEFF', 'h\u00e9llo', 'n\u0000ul'];

/** String contents as bytes: valid UTF-8 (unicode, NUL, BOM) or not (stray, truncated, overlong, surrogate sequences). */
function randomStringBytes(r: Rng): Hex {
  const roll = r.int(4);
  if (roll === 0) return r.hex(r.int(40));
  let text = '';
  for (let i = r.int(6); i > 0; i--) text += r.pick(STRING_PIECES);
  let hex = Buffer.from(text, 'utf8').toString('hex');
  if (roll === 1) {
    const bad = ['80', 'c3', 'e2 82', 'f0 9f 98', 'c0 af', 'ed a0 80', 'f4 90 80 80', 'ff', 'fe', 'ef bb bf'];
    const at = 2 * r.int(hex.length / 2 + 1);
    hex = hex.slice(0, at) + r.pick(bad).replace(/ /g, '') + hex.slice(at);
  }
  return `0x${hex}`;
}

/** A value of the type, in the shape viem's encoder takes. Strings come as raw bytes (see `encodingType`). */
function randomValue(r: Rng, p: Param): unknown {
  const array = /^(.*)\[(\d*)\]$/.exec(p.type);
  if (array) {
    const length = array[2] ? Number(array[2]) : r.int(4);
    return Array.from({ length }, () => randomValue(r, { ...p, type: array[1]! } as Param));
  }
  if (p.type === 'tuple') return p.components!.map((c) => randomValue(r, c));
  const int = /^(u?)int(\d+)$/.exec(p.type);
  if (int) {
    const bits = Number(int[2]);
    const unsigned = int[1] === 'u';
    const max = unsigned ? (1n << BigInt(bits)) - 1n : (1n << BigInt(bits - 1)) - 1n;
    const min = unsigned ? 0n : -(1n << BigInt(bits - 1));
    const edges = [0n, 1n, max, min, max - 1n, min + 1n, unsigned ? 2n ** 52n : -1n, unsigned ? 2n ** 53n + 1n : -(2n ** 51n), -(2n ** 52n)];
    const roll = r.int(3);
    if (roll === 0) {
      const edge = r.pick(edges);
      return edge >= min && edge <= max ? edge : 0n;
    }
    const magnitude = r.bits(1 + r.int(unsigned ? bits : bits - 1));
    return unsigned || r.int(2) === 0 ? magnitude : -magnitude - (r.int(2) === 0 ? 0n : 1n);
  }
  if (p.type === 'address') return r.hex(20);
  if (p.type === 'bool') return r.int(2) === 1;
  if (p.type === 'bytes') return r.hex(r.int(3) === 0 ? 0 : r.int(70));
  if (p.type === 'string') return randomStringBytes(r);
  return r.hex(Number(p.type.slice(5))); // bytesN
}

/** The type viem encodes with: `string` as `bytes`, whose encoding is the same, so invalid UTF-8 can be written too. */
function encodingType(p: Param): Param {
  const type = p.type.replace(/^string/, 'bytes');
  return p.components ? ({ ...p, type, components: p.components.map(encodingType) } as Param) : ({ ...p, type } as Param);
}

interface Case {
  event: AbiEvent;
  topics: Hex[];
  data: Hex;
}

function isHashedWhenIndexed(type: string): boolean {
  return type === 'string' || type === 'bytes' || type.endsWith(']') || type.startsWith('tuple');
}

function randomCase(r: Rng): Case {
  const count = r.int(6);
  const inputs: Param[] = [];
  let indexed = 0;
  for (let i = 0; i < count; i++) {
    const p = { ...randomType(r, 3), name: r.int(4) === 0 ? '' : `${r.pick(NAMES)}${i}` } as Param;
    if (indexed < 3 && r.int(3) === 0) {
      p.indexed = true;
      indexed++;
    }
    inputs.push(p);
  }
  const event = { type: 'event', name: 'E', inputs } as AbiEvent;
  const values = inputs.map((p) => randomValue(r, p));
  const dataInputs = inputs.filter((p) => !p.indexed);
  const data = encodeAbiParameters(dataInputs.map(encodingType), inputs.flatMap((p, i) => (p.indexed ? [] : [values[i]])));
  const encoding = { ...event, inputs: inputs.map(encodingType) } as AbiEvent;
  // Positional args of encodeEventTopics are the indexed inputs' only.
  const args = inputs.flatMap((p, i) => (p.indexed ? [/\]$|^tuple/.test(p.type) ? null : values[i]] : []));
  const topics = (encodeEventTopics({ abi: [encoding], eventName: 'E', args: args as never }) as Array<Hex | null>).map(
    // viem cannot write topics of indexed arrays and tuples; the chain holds a hash there, any hash.
    (t) => t ?? keccak256(r.hex(8)),
  );
  if (topics.length !== indexed + 1) throw new Error('topics do not line up with indexed inputs');
  return { event, topics, data };
}

function decoders(event: AbiEvent) {
  const [table] = eventTables('C', [event]);
  return { ours: new EventDecoder(table!), viem: new ViemEventDecoder(table!), table: table! };
}

type Outcome = { cells: unknown[] } | { error: string };

function run(decode: () => unknown[]): Outcome {
  try {
    return { cells: decode() };
  } catch (error) {
    if (!(error instanceof AbiDecodeError)) throw error;
    return { error: error.shortMessage };
  }
}

test('differential: random values of every ABI type decode to exactly the cells viem gave', () => {
  const r = rng(SEED);
  const started = Date.now();
  let logs = 0;
  let cells = 0;
  const typesSeen = new Set<string>();
  const leavesSeen = new Set<string>();
  const leaves = (p: Param): void => (p.components ? p.components.forEach(leaves) : void leavesSeen.add(p.type.replace(/\[\d*\]/g, '')));
  for (let n = 0; n < 3000; n++) {
    const c = randomCase(r);
    const { ours, viem, table } = decoders(c.event);
    table.columns.forEach((col) => typesSeen.add(`${col.param.indexed ? 'indexed ' : ''}${col.param.type.replace(/\d+/g, 'N')}`));
    c.event.inputs.forEach((p) => leaves(p as Param));
    const expected = viem.decode(c.topics, c.data, where);
    const actual = ours.decode(c.topics, c.data, where);
    assert.deepStrictEqual(actual, expected, `case ${n} (seed ${SEED}): ${table.signature} topics ${c.topics.join(',')} data ${c.data}`);
    // The same log again, uppercase: the RPC may send hex in either case.
    assert.deepStrictEqual(ours.decode(c.topics.map((t) => t.toUpperCase().replace('0X', '0x')), c.data.toUpperCase().replace('0X', '0x'), where), expected);
    logs += 2;
    cells += expected.length;
  }
  for (const t of ['uintN', 'intN', 'address', 'bool', 'bytesN', 'bytes', 'string', 'uintN[]', 'tuple', 'tuple[]', 'tuple[N]', 'string[N]', 'indexed string', 'indexed tuple', 'indexed intN', 'indexed address']) {
    assert.ok(typesSeen.has(t), `the generator covers ${t}`);
  }
  for (let n = 1; n <= 32; n++) {
    for (const t of [`uint${8 * n}`, `int${8 * n}`, `bytes${n}`]) assert.ok(leavesSeen.has(t), `the generator covers ${t}`);
  }
  assert.ok(Date.now() - started < 60_000, 'stays fast');
  process.stdout.write(`# ${logs} logs, ${cells} cells, ${typesSeen.size} type shapes in ${Date.now() - started} ms\n`);
});

/** A word of 32 bytes as hex (no 0x). */
const word = (value: bigint | number) => BigInt.asUintN(256, BigInt(value)).toString(16).padStart(64, '0');

/**
 * The one place we refuse what viem accepted (readers.ts): data cut off inside the zero padding of
 * its last word, which viem never read past a bytesN's N bytes.
 */
function cutInsidePadding(error: string): boolean {
  const m = /needs bytes \d+\.\.(\d+) but the data is (\d+) bytes/.exec(error);
  return m !== null && Number(m[1]) + 1 - Number(m[2]) < 32;
}

test('malformed logs: viem rejects ⇔ we reject; both accept → same cells (dirty words included)', () => {
  const r = rng(SEED + 1);
  const tally = { bothAccept: 0, bothReject: 0, cutInsidePadding: 0 };
  for (let n = 0; n < 3000; n++) {
    const c = randomCase(r);
    const { ours, viem, table } = decoders(c.event);
    const topics = [...c.topics];
    let data: string = c.data;
    const words = (data.length - 2) / 64;
    switch (r.int(6)) {
      case 0: // truncated
        data = data.slice(0, Math.max(2, data.length - 2 * (1 + r.int(40))));
        break;
      case 1: // a word replaced by a small number: offsets and lengths that point elsewhere
        if (words > 0) {
          const i = r.int(words);
          data = data.slice(0, 2 + i * 64) + word(r.pick([0, 1, 2, 31, 32, 33, 64, 96, 1000, 2 ** 40, r.int(words * 32 + 64)])) + data.slice(2 + (i + 1) * 64);
        }
        break;
      case 2: // one byte flipped
        if (words > 0) {
          const i = 2 + 2 * r.int(words * 32);
          data = data.slice(0, i) + r.hex(1).slice(2) + data.slice(i + 2);
        }
        break;
      case 3: // a huge word
        if (words > 0) {
          const i = r.int(words);
          data = data.slice(0, 2 + i * 64) + r.pick(['f'.repeat(64), `${'0'.repeat(40)}${'f'.repeat(24)}`, `01${'0'.repeat(62)}`]) + data.slice(2 + (i + 1) * 64);
        }
        break;
      case 4: // a topic word dirtied
        if (topics.length > 1) {
          const i = 1 + r.int(topics.length - 1);
          topics[i] = `0x${r.hex(1 + r.int(4)).slice(2)}${topics[i]!.slice(2 + 2 * (1 + r.int(4)))}`.slice(0, 66).padEnd(66, '0') as Hex;
        }
        break;
      default: // trailing bytes
        data += r.hex(1 + r.int(40)).slice(2);
    }
    const expected = run(() => viem.decode(topics, data, where));
    const actual = run(() => ours.decode(topics, data, where));
    const label = `case ${n} (seed ${SEED + 1}): ${table.signature} topics ${topics.join(',')} data ${data}`;
    if ('cells' in expected && 'error' in actual) {
      assert.ok(cutInsidePadding(actual.error), `viem accepts but we reject (${actual.error}): ${label}`);
      tally.cutInsidePadding++;
    } else if ('cells' in expected && 'cells' in actual) {
      assert.deepStrictEqual(actual.cells, expected.cells, label);
      tally.bothAccept++;
    } else {
      assert.ok('error' in expected && 'error' in actual, `viem rejects (${'error' in expected ? expected.error : ''}) but we accept: ${label}`);
      tally.bothReject++;
    }
    if ('error' in actual) {
      assert.ok(!actual.error.includes('\n'), 'one line');
      assert.ok(actual.error.startsWith(`${where()} `), actual.error);
      assert.ok(actual.error.endsWith('; is the ABI for this address right?'), actual.error);
    }
  }
  assert.ok(tally.bothAccept > 200 && tally.bothReject > 200, JSON.stringify(tally));
  process.stdout.write(`# malformed: ${JSON.stringify(tally)}\n`);
});

// Hand-written malformed logs, each with the reason a user reads.
const transfer = TRANSFER_EVENT;
const A = `0x${word(0xa1)}`;
const B = `0x${word(0xb2)}`;
const T0 = toEventSelector('Transfer(address,address,uint256)');

function errorOf(event: AbiEvent, topics: string[], data: string): string {
  const { ours } = decoders(event);
  try {
    ours.decode(topics, data, where);
  } catch (error) {
    assert.ok(error instanceof AbiDecodeError, String(error));
    assert.equal(error.name, 'AbiDecodeError', 'the name Temporal treats as non-retryable');
    assert.ok(!error.shortMessage.includes('\n'), 'one line');
    return error.shortMessage;
  }
  throw new Error('the log decoded');
}

test('malformed logs name the log, the event, the argument and the problem', () => {
  const prefix = `${where()} does not decode as C.Transfer(address,address,uint256): `;
  assert.equal(errorOf(transfer, [T0, A], `0x${word(5)}`), `${where()} has 1 indexed topics but C.Transfer(address,address,uint256) declares 2; is the ABI for this address right?`);
  assert.equal(errorOf(transfer, [T0, A, B], '0x'), `${prefix}value (uint256) needs bytes 0..31 but the data is 0 bytes; is the ABI for this address right?`);
  assert.equal(errorOf(transfer, [T0, A, B], `0x${word(5).slice(0, 60)}`), `${prefix}value (uint256) needs bytes 0..31 but the data is 30 bytes; is the ABI for this address right?`);
  assert.equal(errorOf(transfer, [T0, A, '0x1234'], `0x${word(5)}`), `${prefix}topic 2 is not a 32-byte hex word; is the ABI for this address right?`);
  assert.match(errorOf(transfer, [T0, A, B], `0x${word(5)}z`), /the data is not hex bytes/);
  assert.match(errorOf(transfer, [T0, A, B], `0x${word(5)}0`), /the data is not hex bytes/);

  const mixed: AbiEvent = {
    type: 'event',
    name: 'M',
    inputs: [
      { name: 'flag', type: 'bool' },
      { name: 'small', type: 'uint8' },
      { name: 'signed', type: 'int8' },
      { name: 'tag', type: 'bytes4' },
      { name: 'text', type: 'string' },
      { name: 'nums', type: 'uint256[]' },
    ],
  };
  const good = encodeAbiParameters(mixed.inputs, [true, 255, -128, '0xdeadbeef', 'hi', [1n, 2n]]).slice(2);
  const words = good.match(/.{64}/g)!;
  const withWord = (i: number, w: string) => `0x${words.map((x, j) => (j === i ? w : x)).join('')}`;
  const sig = 'C.M(bool,uint8,int8,bytes4,string,uint256[])';
  assert.deepEqual(decoders(mixed).ours.decode([toEventSelector(sig.slice(2))], `0x${good}`, where), [true, '255', '-128', '0xdeadbeef', 'hi', '["1","2"]']);
  const m = (data: string) => errorOf(mixed, [toEventSelector(sig.slice(2))], data).replace(`${where()} does not decode as ${sig}: `, '').replace('; is the ABI for this address right?', '');
  assert.equal(m(withWord(0, word(2))), 'flag (bool) is neither 0 nor 1');
  // Dirty words are stored as viem read them (the word's value; an address's last 20 bytes; a bytesN's first N).
  const cells = (data: string) => decoders(mixed).ours.decode([toEventSelector(sig.slice(2))], data, where);
  assert.equal(cells(withWord(1, word(256)))[1], '256');
  assert.equal(cells(withWord(2, word(0x80)))[2], '128');
  assert.equal(cells(withWord(2, `${'f'.repeat(62)}7f`))[2], String(BigInt(`0x${'f'.repeat(62)}7f`) - 2n ** 256n));
  assert.equal(cells(withWord(3, `deadbeef${'0'.repeat(55)}1`))[3], '0xdeadbeef');
  assert.equal(decoders(transfer).ours.decode([T0, `0x01${A.slice(4)}`, B], `0x${word(5)}`, where)[0], `0x${A.slice(-40)}`);
  assert.equal(m(withWord(4, word(4096))), 'the offset of text (string) points to byte 4096, past the 352-byte data');
  assert.equal(m(withWord(4, 'f'.repeat(64))), `the offset of text (string) is 0x${'f'.repeat(64)}, beyond any data`);
  // Words: 0-5 heads, 6-7 the string (length, content), 8-10 the array (length, items).
  assert.equal(m(withWord(6, word(1000))), 'text (string) needs bytes 224..1223 but the data is 352 bytes');
  assert.equal(m(withWord(8, word(2 ** 40))), `nums (uint256[]) needs bytes 288..${288 + 2 ** 45 - 1} but the data is 352 bytes`);
  // Offset 1: the length is read across words 0 and 1 (0x0100 = 256 items), which the data cannot hold.
  assert.equal(m(withWord(5, word(1))), 'nums (uint256[]) needs bytes 33..8224 but the data is 352 bytes');
});

test('offsets that make a short log read the same bytes over and over are refused', () => {
  // string[] of 2000 elements, every one pointing at the same 4 KB string: 8 MB from a 68 KB log.
  const event: AbiEvent = { type: 'event', name: 'S', inputs: [{ name: 'texts', type: 'string[]' }] };
  const count = 2000;
  const shared = 'ab'.repeat(4096);
  const data = `0x${word(32)}${word(count)}${word(count * 32).repeat(count)}${word(4096)}${shared}`;
  const { ours, viem } = decoders(event);
  assert.throws(() => viem.decode([toEventSelector('S(string[])')], data, where), AbiDecodeError);
  assert.match(errorOf(event, [toEventSelector('S(string[])')], data), /texts\[\] \(string\) reads more than 32 times the data size through overlapping offsets/);
  // A few shared tails are legal ABI and decode.
  const small = `0x${word(32)}${word(2)}${word(64).repeat(2)}${word(2)}${'6869'.padEnd(64, '0')}`;
  assert.deepEqual(ours.decode([toEventSelector('S(string[])')], small, where), ['["hi","hi"]']);
});

test('cells: integers as decimal strings, hex lowercase, NUL removed, tuples keyed by name or position', () => {
  const event: AbiEvent = {
    type: 'event',
    name: 'E',
    inputs: [
      { name: 'a', type: 'int256' },
      { name: 'b', type: 'address', indexed: true },
      { name: 'c', type: 'string' },
      { name: 'd', type: 'bytes4' },
      { name: 'label', type: 'string', indexed: true },
      {
        name: 't',
        type: 'tuple[]',
        components: [
          { name: 'amount', type: 'uint256' },
          { name: '', type: 'address' },
          { name: 'inner', type: 'tuple', components: [{ name: 'flag', type: 'bool' }, { name: 'tags', type: 'bytes2[]' }] },
        ],
      },
    ],
  };
  const data = encodeAbiParameters(event.inputs.filter((i) => !i.indexed), [
    -(2n ** 255n),
    'a\u0000b',
    '0xDEADBEEF',
    [[5n, '0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', { flag: true, tags: ['0xABCD'] }]],
  ] as never);
  const labelHash = keccak256(Buffer.from('label'));
  const topics = [toEventSelector(event), `0x${word(0xabcdef).toUpperCase()}`, labelHash.toUpperCase().replace('0X', '0x')];
  assert.deepStrictEqual(decoders(event).ours.decode(topics, data, where), [
    '-57896044618658097711785492504343953926634992332820282019728792003956564819968',
    '0x0000000000000000000000000000000000abcdef',
    'ab',
    '0xdeadbeef',
    labelHash,
    '[{"1":"0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","amount":"5","inner":{"flag":true,"tags":["0xabcd"]}}]',
  ]);
});

test('strings: invalid UTF-8 is replaced exactly as viem’s TextDecoder does, a leading BOM dropped, NUL removed', () => {
  // Short sequences from the bytes where UTF-8 decoders disagree: continuation bytes, overlongs,
  // surrogates, code points above U+10FFFF, truncated sequences, the byte order mark.
  const alphabet = [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbb, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xf8, 0xfe, 0xff];
  const r = rng(SEED + 2);
  const event: AbiEvent = { type: 'event', name: 'S', inputs: [{ name: 's', type: 'string' }] };
  const { ours } = decoders(event);
  const topics = [toEventSelector('S(string)')];
  const textDecoder = new TextDecoder();
  for (let n = 0; n < 20_000; n++) {
    const bytes = Uint8Array.from({ length: 1 + r.int(8) }, () => r.pick(alphabet));
    const data = encodeAbiParameters([{ type: 'bytes' }], [`0x${Buffer.from(bytes).toString('hex')}`]);
    const expected = textDecoder.decode(bytes).replace(/\u0000/g, '');
    assert.equal(ours.decode(topics, data, where)[0], expected, Buffer.from(bytes).toString('hex'));
  }
});
