import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Abi, Hex } from 'viem';

const require = createRequire(import.meta.url);
const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

export interface Artifact {
  abi: Abi;
  bytecode: Hex;
}

const cache = new Map<string, Artifact>();

/** Compiles `test/fixtures/<name>.sol` (its contract `<name>`, or another one of the file) with solc-js (no download: the compiler ships in the package). */
export function compileFixture(name: string, contractName = name): Artifact {
  const cached = cache.get(`${name}:${contractName}`);
  if (cached) return cached;
  const solc = require('solc') as { compile: (input: string) => string };
  const input = {
    language: 'Solidity',
    sources: { [`${name}.sol`]: { content: readFileSync(path.join(FIXTURES, `${name}.sol`), 'utf8') } },
    settings: { optimizer: { enabled: true, runs: 200 }, outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as {
    errors?: Array<{ severity: string; formattedMessage: string }>;
    contracts: Record<string, Record<string, { abi: Abi; evm: { bytecode: { object: string } } }>>;
  };
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length > 0) throw new Error(errors.map((e) => e.formattedMessage).join('\n'));
  const contract = output.contracts[`${name}.sol`]![contractName]!;
  const artifact = { abi: contract.abi, bytecode: `0x${contract.evm.bytecode.object}` as Hex };
  cache.set(`${name}:${contractName}`, artifact);
  return artifact;
}
