import { getAddress } from 'viem';
import type { HandlerBlockEvent, HandlerEvent } from './event';

/**
 * Which chain reads a handler will make for events it has not handled yet, learned from the reads
 * it made for the events it has (docs/handlers.md, "Reading the chain"). A handler that reads
 * `balanceOf(event.args.to)` and `totalSupply()` at its event's block makes, for every event, the
 * same two requests with the event's own `to` and block: the bytes of the request are the bytes of
 * the event's fields (an address argument is ABI-encoded as the 32-byte word a topic holds). A
 * template keeps, for the nth read a handler makes per event, each part of the request (the `to`
 * address, every 32-byte word of the calldata, the block's distance from the event's) either as a
 * constant or as the event field it equalled every time it was seen. From two sightings on, its
 * predictions go out ahead of the handler in large JSON-RPC batches (chain-reads.ts); what the
 * handler then asks for is answered from them. A template whose predictions are mostly not asked
 * for is dropped: a wrong guess costs requests, never an answer.
 */

/** Sightings before a template predicts: one could take a coincidence (an amount of 1, a bool) for a field. */
const SIGHTINGS_BEFORE_PREDICTING = 2;
/** Predictions judged before a template may be dropped, and the share of them that must be asked for. */
const JUDGED_AFTER = 200;
const MIN_USED_SHARE = 0.5;
/** Reads per event a handler's templates follow; reads after these are not predicted. */
const MAX_READS_PER_EVENT = 16;

type AnyEvent = HandlerEvent | HandlerBlockEvent;

/** A part of a request: a constant, or still possibly any of these event fields (`args.to`, `block.number` …). */
interface Part {
  constant: string | null;
  fields: string[];
  /** An address written checksummed (EIP-55) where the event has it lowercase. */
  checksummed?: boolean;
}

interface StringLeaf {
  /** How the string is cut into parts: an address, calldata (selector and words), or anything else, kept whole. */
  form: 'address' | 'calldata' | 'other';
  /** calldata: its selector, part of the template's shape. */
  selector?: string;
  parts: Part[];
}

/** One read a handler makes per event: the request's shape, and what each of its strings is made of. */
export interface ReadTemplate {
  readonly id: number;
  method: string;
  blockPosition: number;
  /** The request's parameters, string leaves replaced by their index in `leaves`. */
  shape: string;
  leaves: StringLeaf[];
  /** Event's block minus the read's; null once it differed between sightings. */
  blockOffset: number | null;
  sightings: number;
  predicted: number;
  used: number;
  dropped: boolean;
}

export interface PredictedRead {
  template: ReadTemplate;
  method: string;
  params: unknown[];
  block: number;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const CALLDATA = /^0x[0-9a-f]{8}(?:[0-9a-f]{64})+$/;

/** Every field of the event a request could carry: addresses by their lowercase text, the rest as 32-byte words. */
export class EventFields {
  readonly addresses = new Map<string, string>();
  readonly words = new Map<string, string>();
  readonly byField = new Map<string, { address?: string; word: string }>();

  constructor(event: AnyEvent) {
    this.add('block.number', BigInt(event.block.number));
    if (!('args' in event)) return;
    this.add('log.address', event.log.address);
    if (event.transaction.from) this.add('transaction.from', event.transaction.from);
    if (event.transaction.to) this.add('transaction.to', event.transaction.to);
    for (const [name, value] of Object.entries(event.args)) this.add(`args.${name}`, value);
  }

  private add(field: string, value: unknown): void {
    const word = wordOf(value);
    if (word === undefined) return;
    const address = typeof value === 'string' && ADDRESS.test(value) ? value.toLowerCase() : undefined;
    this.byField.set(field, { ...(address ? { address } : {}), word });
    if (address && !this.addresses.has(address)) this.addresses.set(address, field);
    if (!this.words.has(word)) this.words.set(word, field);
  }

  /** Every field whose word is `word` (a word can be several fields': two arguments of 0). */
  fieldsOfWord(word: string): string[] {
    return [...this.byField].filter(([, v]) => v.word === word).map(([field]) => field);
  }

  fieldsOfAddress(address: string): string[] {
    return [...this.byField].filter(([, v]) => v.address === address).map(([field]) => field);
  }
}

/** A value as the 32-byte word ABI encoding makes of it (static types only); undefined for anything else. */
function wordOf(value: unknown): string | undefined {
  if (typeof value === 'bigint') return (value < 0n ? (1n << 256n) + value : value).toString(16).padStart(64, '0').slice(-64);
  if (typeof value === 'boolean') return value ? '1'.padStart(64, '0') : '0'.repeat(64);
  if (typeof value !== 'string' || !/^0x[0-9a-fA-F]*$/.test(value)) return undefined;
  const hex = value.slice(2).toLowerCase();
  if (hex.length === 40) return hex.padStart(64, '0');
  if (hex.length > 0 && hex.length <= 64 && hex.length % 2 === 0) return hex.padEnd(64, '0'); // bytesN
  return undefined;
}

/** The reads of one indexer's handlers, by handler key: what a worker learned, kept across batches. */
export class ReadProfiles {
  private readonly templates = new Map<string, ReadTemplate[]>();
  private nextId = 1;

  /** A read the handler of `key` made as its `ordinal`th for `event`: learned from. */
  observe(key: string, ordinal: number, fields: EventFields, eventBlock: number, method: string, params: unknown[], blockPosition: number, block: number): ReadTemplate | undefined {
    if (ordinal >= MAX_READS_PER_EVENT) return undefined;
    const list = this.templates.get(key) ?? [];
    this.templates.set(key, list);
    const leaves: string[] = [];
    const shape = JSON.stringify(
      params.map((p, i) => (i === blockPosition ? null : p)),
      (_, v: unknown) => (typeof v === 'string' ? `\u0000${leaves.push(v) - 1}` : v),
    );
    const offset = eventBlock - block;
    const existing = list[ordinal];
    if (existing && !existing.dropped && existing.method === method && existing.shape === shape && sameForms(existing.leaves, leaves)) {
      existing.sightings += 1;
      if (existing.blockOffset !== offset) existing.blockOffset = null;
      existing.leaves.forEach((leaf, i) => narrow(leaf, leaves[i]!, fields));
      return existing;
    }
    if (existing?.dropped) return undefined;
    return (list[ordinal] = { id: this.nextId++, method, blockPosition, shape, leaves: leaves.map((s) => leafOf(s, fields)), blockOffset: offset, sightings: 1, predicted: 0, used: 0, dropped: false });
  }

  /** The reads the handler of `key` is expected to make for an event (its fields made only when some template predicts). */
  predict(key: string, eventFields: () => EventFields, eventBlock: number): PredictedRead[] {
    const out: PredictedRead[] = [];
    let fields: EventFields | undefined;
    for (const template of this.templates.get(key) ?? []) {
      if (!template || template.dropped || template.blockOffset === null || template.sightings < SIGHTINGS_BEFORE_PREDICTING) continue;
      fields ??= eventFields();
      const strings = template.leaves.map((leaf) => render(leaf, fields!));
      if (strings.some((s) => s === undefined)) continue;
      const params = JSON.parse(template.shape, (_, v: unknown) => (typeof v === 'string' && v.startsWith('\u0000') ? strings[Number(v.slice(1))] : v)) as unknown[];
      const block = eventBlock - template.blockOffset;
      if (block < 0) continue;
      params[template.blockPosition] = `0x${block.toString(16)}`;
      out.push({ template, method: template.method, params, block });
    }
    return out;
  }

  /** How the predictions a batch sent fared: a template whose guesses mostly went unasked is dropped. */
  judge(template: ReadTemplate, predicted: number, used: number): void {
    template.predicted += predicted;
    template.used += used;
    if (template.predicted >= JUDGED_AFTER && template.used < template.predicted * MIN_USED_SHARE) template.dropped = true;
  }

  /** Whether any handler's reads are predicted yet (a batch without any skips the work). */
  get predicting(): boolean {
    for (const list of this.templates.values()) if (list.some((t) => t && !t.dropped && t.sightings >= SIGHTINGS_BEFORE_PREDICTING)) return true;
    return false;
  }
}

function formOf(s: string): StringLeaf['form'] {
  return ADDRESS.test(s) ? 'address' : CALLDATA.test(s) ? 'calldata' : 'other';
}

function tokens(s: string): { form: StringLeaf['form']; selector?: string; values: string[] } {
  const form = formOf(s);
  if (form === 'address') return { form, values: [s] };
  if (form === 'calldata') return { form, selector: s.slice(2, 10), values: s.slice(10).match(/.{64}/g)! };
  return { form, values: [s] };
}

function sameForms(leaves: StringLeaf[], strings: string[]): boolean {
  return leaves.every((leaf, i) => {
    const t = tokens(strings[i]!);
    return t.form === leaf.form && t.selector === leaf.selector && t.values.length === leaf.parts.length;
  });
}

function partOf(form: StringLeaf['form'], value: string, fields: EventFields): Part {
  if (form === 'address') {
    const lower = value.toLowerCase();
    const matched = fields.fieldsOfAddress(lower);
    return { constant: value, fields: matched, ...(matched.length > 0 && value !== lower ? { checksummed: true } : {}) };
  }
  if (form === 'calldata') return { constant: value, fields: fields.fieldsOfWord(value) };
  return { constant: value, fields: [] };
}

function leafOf(s: string, fields: EventFields): StringLeaf {
  const t = tokens(s);
  return { form: t.form, ...(t.selector ? { selector: t.selector } : {}), parts: t.values.map((v) => partOf(t.form, v, fields)) };
}

/** A new sighting: each part keeps the fields it equalled this time too, and stays a constant only if unchanged. */
function narrow(leaf: StringLeaf, s: string, fields: EventFields): void {
  const seen = tokens(s).values;
  leaf.parts.forEach((part, i) => {
    const now = partOf(leaf.form, seen[i]!, fields);
    if (part.constant !== now.constant) part.constant = null;
    part.fields = part.fields.filter((f) => now.fields.includes(f));
  });
}

/** A leaf rebuilt for another event; undefined when a part is neither a field nor a constant any more. */
function render(leaf: StringLeaf, fields: EventFields): string | undefined {
  const values: string[] = [];
  for (const part of leaf.parts) {
    // A field that equalled the part every time wins over a constant that did too (the first event seen may be any).
    const field = part.fields.find((f) => fields.byField.has(f));
    const value = field ? fields.byField.get(field)! : undefined;
    if (value) {
      if (leaf.form === 'address') {
        if (!value.address) return undefined;
        values.push(part.checksummed ? getAddress(value.address) : value.address);
      } else values.push(value.word);
    } else if (part.constant !== null && part.fields.length === 0) values.push(part.constant);
    else return undefined;
  }
  if (leaf.form === 'calldata') return `0x${leaf.selector}${values.join('')}`;
  return values[0];
}
