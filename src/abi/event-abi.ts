/**
 * Event items of a JSON ABI: validation, the canonical form the spec carries, signatures.
 * abitype's zod schema decides what is a Solidity type and viem writes signatures and selectors;
 * what is ours is the one-line reason a user reads and the limits of what we index.
 */
import { AbiEventParameter as AbiEventParameterSchema, AbiParameter as AbiParameterSchema } from 'abitype/zod';
import type { AbiEvent, AbiEventParameter, AbiParameter } from 'abitype';
import { toEventSignature } from 'viem';
import { z } from 'zod';

export type { AbiEvent, AbiEventParameter, AbiParameter };

const EventInputs = z.array(AbiEventParameterSchema);
const TUPLE = /^tuple(\[\d*\])*$/;

/**
 * The inputs of a JSON ABI event item, in the canonical form the spec carries, or the reason they
 * cannot be indexed (one line, e.g. `bad integer width in "uint7"`).
 */
export function parseEventInputs(raw: unknown): { inputs: AbiEventParameter[] } | { reason: string } {
  const parsed = EventInputs.safeParse(raw ?? []);
  if (!parsed.success) return { reason: rejectedTypeReason(raw) ?? zodReason(parsed.error) };
  const reason = unsupportedReason(parsed.data);
  return reason ? { reason } : { inputs: parsed.data.map(canonicalParam) };
}

/** `Transfer(address,address,uint256)`: viem's canonical signature (tuples expanded, names dropped). */
export function eventSignature(event: AbiEvent): string {
  return toEventSignature(canonicalEvent(event));
}

/**
 * The event with only the fields that matter (so the spec stays small and stable) and `uint`/`int`
 * spelled `uint256`/`int256`: the selector is the hash of the canonical names, and viem's
 * `toEventSignature` keeps types as written. Idempotent, so specs from older versions pass too.
 */
export function canonicalEvent(event: AbiEvent): AbiEvent {
  return { type: 'event', name: event.name, inputs: event.inputs.map(canonicalParam), anonymous: event.anonymous === true };
}

function canonicalParam<P extends AbiParameter & { indexed?: boolean }>(p: P): P {
  const out = { name: p.name ?? '', type: p.type.replace(/^(u?int)(?=\[|$)/, '$1256') } as AbiParameter & { indexed?: boolean };
  if (p.indexed) out.indexed = true;
  if ('components' in p && p.components) (out as { components: readonly AbiParameter[] }).components = p.components.map(canonicalParam);
  return out as P;
}

/** Types abitype accepts that the indexer does not: nothing to store, or nothing to decode. */
function unsupportedReason(params: readonly AbiParameter[]): string | undefined {
  for (const p of params) {
    if (/\[0+\]/.test(p.type)) return `zero-length array in "${p.type}"`;
    // Solidity writes `[1]`; `[01]` would hash to another selector.
    if (/\[0\d/.test(p.type)) return `bad array length in "${p.type}"`;
    if (p.type.startsWith('function')) return `function-typed arguments are not supported ("${p.type}")`;
    if (TUPLE.test(p.type)) {
      const components = 'components' in p ? p.components : [];
      if (components.length === 0) return `tuple ${p.name ? `"${p.name}"` : 'argument'} has no components`;
      const reason = unsupportedReason(components);
      if (reason) return reason;
    }
  }
  return undefined;
}

/** The first type string abitype rejects, explained; undefined when the problem is elsewhere. */
function rejectedTypeReason(raw: unknown): string | undefined {
  if (!Array.isArray(raw)) return undefined;
  for (const [i, p] of (raw as Array<{ name?: unknown; type?: unknown; components?: unknown }>).entries()) {
    if (typeof p !== 'object' || p === null) continue;
    const name = typeof p.name === 'string' && p.name ? `"${p.name}"` : `#${i}`;
    if (typeof p.type !== 'string') return `argument ${name} has no type`;
    if (TUPLE.test(p.type)) {
      if (!Array.isArray(p.components) || p.components.length === 0) return `tuple ${name} has no components`;
      const reason = rejectedTypeReason(p.components);
      if (reason) return reason;
    } else if (!AbiParameterSchema.safeParse({ type: p.type }).success) {
      return whyNotSolidity(p.type);
    }
  }
  return undefined;
}

function whyNotSolidity(type: string): string {
  const base = type.replace(/(\[\d*\])+$/, '');
  if (base.includes('[') || base.includes(']')) return `bad array suffix in "${type}"`;
  if (/^u?int\d/.test(base)) return `bad integer width in "${type}"`;
  if (/^bytes\d/.test(base)) return `bad bytes length in "${type}"`;
  return `unknown type "${type}"`;
}

function zodReason(error: z.ZodError): string {
  const issue = error.issues[0];
  const where = (issue?.path ?? []).map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`)).join('');
  return `inputs${where}: ${issue?.message ?? 'not a valid ABI parameter'}`;
}
