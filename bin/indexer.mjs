#!/usr/bin/env node
// The `indexer` command. It runs the compiled CLI (dist/, from `npm run build`) when that build is
// newer than every file under src/ (the image ships dist/ without src/), and otherwise the
// TypeScript sources through tsx, so a developer who edits src/ after building never runs stale code.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { distIsFresh } from './dist-fresh.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

if (distIsFresh(root)) {
  const { main } = await import(pathToFileURL(path.join(root, 'dist', 'indexer.js')).href);
  await main();
} else if (existsSync(path.join(root, 'src'))) {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../src/client.ts');
  await main();
} else {
  process.stderr.write('error: neither dist/ nor src/ is here: run npm run build\n');
  process.exitCode = 1;
}
