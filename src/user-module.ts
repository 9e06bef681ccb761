import path from 'node:path';
import { pathToFileURL } from 'node:url';

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts']);

/**
 * Imports a user's module (the config; soon handlers). JavaScript and JSON need nothing; a
 * TypeScript file is loaded through tsx, imported only then: the compiled CLI otherwise runs with
 * no TypeScript loader at all, and tsx stays a runtime dependency for this one reason.
 */
export async function importUserModule(file: string): Promise<Record<string, unknown>> {
  if (TYPESCRIPT.has(path.extname(file))) {
    const { tsImport } = await import('tsx/esm/api');
    const ns = (await tsImport(pathToFileURL(file).href, import.meta.url)) as Record<string, unknown>;
    // A .ts file outside an ESM package is compiled to CommonJS: its exports arrive wrapped once more.
    const inner = ns.default as Record<string, unknown> | undefined;
    return inner && typeof inner === 'object' && inner.__esModule === true ? inner : ns;
  }
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}
