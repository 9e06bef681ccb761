import path from 'node:path';
import { z } from 'zod';

/** The handlers stage's section of the spec: the module's absolute path; workers import it from there. */
export interface HandlersSpec {
  module: string;
}

/** Config `handlers` (docs/handlers.md): the module (`.ts`, `.mjs`, `.js`), relative to the config file. */
export const handlersConfigSchema = z.string().regex(/\.(ts|mts|mjs|js)$/, 'must be a .ts, .mjs or .js file');

/** The spec's `handlers` from the config's: the path made absolute against the config file's folder, like ABI paths. */
export function handlersSpec(module: string, configDir: string): HandlersSpec {
  return { module: path.resolve(configDir, module) };
}
