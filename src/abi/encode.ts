import type { ArgColumn } from './layout';
import type { AbiParameter } from './event-abi';

/** PostgreSQL text cannot hold NUL characters (DESIGN.md, "Strings"). */
export function stripNul(s: string): string {
  return s.includes('\u0000') ? s.replace(/\u0000/g, '') : s;
}

/**
 * The value bound as a query parameter for one decoded argument. Integers travel as decimal strings
 * (numeric(78,0) holds every uint256/int256), hex as lowercase text, composites as JSON text.
 */
export function columnValue(column: ArgColumn, value: unknown): string | boolean | null {
  if (value === undefined || value === null) return null;
  switch (column.kind) {
    case 'int':
      return String(value as bigint | number);
    case 'bool':
      return Boolean(value);
    case 'string':
      return stripNul(String(value));
    case 'address':
    case 'bytes':
    case 'topic':
      return String(value).toLowerCase();
    case 'json':
      return JSON.stringify(jsonValue(column.param, value));
  }
}

/**
 * JSON form of an array or tuple: tuples as objects keyed by component name (positional "0", "1" …
 * where unnamed), integers as decimal strings, addresses and bytes as lowercase hex.
 */
export function jsonValue(param: AbiParameter, value: unknown): unknown {
  const element = /^(.*)\[\d*\]$/.exec(param.type)?.[1];
  if (element !== undefined) {
    const items = value as readonly unknown[];
    return items.map((item) => jsonValue({ ...param, type: element, name: undefined } as AbiParameter, item));
  }
  if (param.type === 'tuple') {
    const components = 'components' in param ? param.components : [];
    const out: Record<string, unknown> = {};
    components.forEach((component, i) => {
      const key = component.name ? component.name : String(i);
      const raw = Array.isArray(value) ? value[i] : (value as Record<string, unknown>)[component.name || String(i)];
      out[key] = jsonValue(component, raw);
    });
    return out;
  }
  if (/^u?int\d*$/.test(param.type)) return String(value as bigint);
  if (param.type === 'bool') return Boolean(value);
  if (param.type === 'string') return stripNul(String(value));
  return String(value).toLowerCase(); // address, bytes, bytesN
}
