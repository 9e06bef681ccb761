import { pathToFileURL } from 'node:url';

let typescriptLoader: Promise<void> | undefined;

/**
 * Imports a user's module (config, handlers) by absolute path. TypeScript files need a loader:
 * where none is registered (compiled production code), tsx is registered on first need, so
 * `.json`, `.mjs` and `.js` files cost nothing and `.ts` ones still work.
 */
export async function importUserModule(file: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(file).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw error;
    typescriptLoader ??= import('tsx/esm/api').then((tsx) => void tsx.register());
    await typescriptLoader;
    return (await import(url)) as Record<string, unknown>;
  }
}
