/** Parsing of Solidity ABI type strings (`uint256`, `bytes32[2][]`, `tuple[]`). Pure. */

export interface AbiParam {
  name?: string;
  type: string;
  indexed?: boolean;
  internalType?: string;
  components?: readonly AbiParam[];
}

export interface AbiEventItem {
  type: 'event';
  name: string;
  inputs: readonly AbiParam[];
  anonymous?: boolean;
}

const ELEMENTARY = /^(uint(\d{0,3})|int(\d{0,3})|address|bool|string|bytes(\d{0,2})|function|tuple)$/;

/** The type with its outermost array dimension removed, or undefined when it is not an array. */
export function arrayElementType(type: string): string | undefined {
  const match = /^(.*)\[(\d*)\]$/.exec(type);
  return match ? match[1] : undefined;
}

export function baseType(type: string): string {
  return type.replace(/(\[\d*\])+$/, '');
}

/** Why a type string is invalid, or undefined when it is a valid ABI type. */
export function invalidTypeReason(param: AbiParam): string | undefined {
  const base = baseType(param.type);
  const dims = param.type.slice(base.length);
  if (dims && !/^(\[\d*\])+$/.test(dims)) return `bad array suffix in "${param.type}"`;
  if (/\[0\]/.test(dims)) return `zero-length array in "${param.type}"`;
  const m = ELEMENTARY.exec(base);
  if (!m) return `unknown type "${param.type}"`;
  const bits = m[2] ?? m[3];
  if (bits && (Number(bits) % 8 !== 0 || Number(bits) < 8 || Number(bits) > 256)) return `bad integer width in "${param.type}"`;
  if (m[4] && (Number(m[4]) < 1 || Number(m[4]) > 32)) return `bad bytes length in "${param.type}"`;
  if (base === 'function') return `function-typed arguments are not supported ("${param.type}")`;
  if (base === 'tuple') {
    if (!param.components || param.components.length === 0) return `tuple "${param.name ?? ''}" has no components`;
    for (const c of param.components) {
      const reason = invalidTypeReason(c);
      if (reason) return reason;
    }
  }
  return undefined;
}

export type ColumnKind = 'int' | 'address' | 'bool' | 'string' | 'bytes' | 'json' | 'topic';

/** How an event argument is stored (DESIGN.md, "Argument types"). */
export function columnKind(param: AbiParam): ColumnKind {
  const type = param.type;
  const isComposite = type.endsWith(']') || type.startsWith('tuple');
  const isDynamicBytes = type === 'string' || type === 'bytes';
  if (param.indexed && (isComposite || isDynamicBytes)) return 'topic';
  if (isComposite) return 'json';
  if (/^u?int\d*$/.test(type)) return 'int';
  if (type === 'address') return 'address';
  if (type === 'bool') return 'bool';
  if (type === 'string') return 'string';
  return 'bytes';
}

export const SQL_TYPE: Record<ColumnKind, string> = {
  int: 'numeric(78,0)',
  address: 'text',
  bool: 'boolean',
  string: 'text',
  bytes: 'text',
  json: 'jsonb',
  topic: 'text',
};

/** Canonical signature, `Transfer(address,address,uint256)`, with tuples expanded. */
export function canonicalType(param: AbiParam): string {
  const base = baseType(param.type);
  const dims = param.type.slice(base.length);
  if (base === 'uint' || base === 'int') return `${base}256${dims}`;
  if (base !== 'tuple') return param.type;
  return `(${(param.components ?? []).map(canonicalType).join(',')})${dims}`;
}

export function eventSignature(event: AbiEventItem): string {
  return `${event.name}(${event.inputs.map(canonicalType).join(',')})`;
}
