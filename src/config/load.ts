import { existsSync, readFileSync } from 'node:fs';
import { resolveStageConfigs } from '../stages/configs';
import path from 'node:path';
import type { z } from 'zod';
import { InvalidConfigError } from '../errors';
import { importUserModule } from '../user-module';
import { configSchema, type ResolvedConfig } from './schema';

export const CONFIG_FILE_NAMES = ['indexer.config.ts', 'indexer.config.mjs', 'indexer.config.js', 'indexer.config.json'];

export interface LoadedConfig {
  path: string;
  config: ResolvedConfig;
}

/** The config path the user named, or the first `indexer.config.*` in the working directory. */
export function findConfigPath(explicit: string | undefined, cwd = process.cwd()): string | undefined {
  if (explicit) {
    const full = path.resolve(cwd, explicit);
    if (!existsSync(full)) throw new InvalidConfigError(`config file ${explicit} not found`);
    return full;
  }
  return CONFIG_FILE_NAMES.map((n) => path.join(cwd, n)).find((p) => existsSync(p));
}

/** The first zod issue as `field.path: message`, plus how many more there are. */
export function formatIssues(error: z.ZodError, prefix = 'config'): string {
  const [first, ...rest] = error.issues;
  if (!first) return `${prefix}: invalid`;
  const where = first.path.reduce<string>((acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : `${acc}.${String(key)}`), prefix);
  const more = rest.length ? ` (and ${rest.length} more problem${rest.length > 1 ? 's' : ''})` : '';
  return `${where}: ${first.message}${more}`;
}

async function readRaw(file: string): Promise<unknown> {
  if (file.endsWith('.json')) {
    try {
      return JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new InvalidConfigError(`${path.basename(file)} is not valid JSON: ${(error as Error).message}`);
    }
  }
  try {
    const mod = (await importUserModule(file)) as { default?: unknown };
    return mod.default ?? mod;
  } catch (error) {
    throw new InvalidConfigError(`${path.basename(file)} could not be loaded: ${(error as Error).message.split('\n')[0]}`);
  }
}

function readAbiFile(abiPath: string, configDir: string, where: string): unknown[] {
  const full = path.resolve(configDir, abiPath);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(full, 'utf8'));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `not valid JSON (${(error as Error).message})`;
    throw new InvalidConfigError(`${where}.abi: ${abiPath}: ${reason}`);
  }
  // Accept a bare ABI array or a build artifact ({ abi: [...] }) as Hardhat and Foundry write them.
  const abi = Array.isArray(parsed) ? parsed : (parsed as { abi?: unknown })?.abi;
  if (!Array.isArray(abi)) throw new InvalidConfigError(`${where}.abi: ${abiPath} holds no ABI array (expected [...] or { "abi": [...] })`);
  return abi;
}

/** Validates a raw config object; ABI paths resolve against `configDir`. */
export function parseConfig(raw: unknown, configDir: string): ResolvedConfig {
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new InvalidConfigError(formatIssues(parsed.error));
  const config = parsed.data;
  const contracts = config.contracts.map((c, i) => {
    const abi: unknown[] = typeof c.abi === 'string' ? readAbiFile(c.abi, configDir, `contracts[${i}]`) : c.abi;
    return { ...c, abi };
  });
  return { ...config, contracts, ...resolveStageConfigs(config, configDir) };
}

export async function loadConfig(explicitPath?: string, cwd = process.cwd()): Promise<LoadedConfig> {
  const file = findConfigPath(explicitPath, cwd);
  if (!file) {
    throw new InvalidConfigError(`no config file: pass --config PATH or create one of ${CONFIG_FILE_NAMES.join(', ')} in ${cwd}`);
  }
  const raw = await readRaw(file);
  return { path: file, config: parseConfig(raw, path.dirname(file)) };
}
