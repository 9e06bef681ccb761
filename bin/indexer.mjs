#!/usr/bin/env node
// The `indexer` command. It runs the compiled CLI (dist/, from `npm run build`) when that build is
// newer than every file under src/ (the image ships dist/ without src/), and otherwise the
// TypeScript sources through tsx, so a developer who edits src/ after building never runs stale code.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');
const compiled = path.join(root, 'dist', 'indexer.js');
const buildInfo = path.join(root, 'dist', 'build-info.json'); // written last by the build

/** The newest modification time of any file under `dir`. */
function newestMtime(dir) {
  let newest = statSync(dir).mtimeMs;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(path.join(entry.parentPath ?? entry.path, entry.name)).mtimeMs);
  }
  return newest;
}

function compiledIsFresh() {
  if (!existsSync(compiled) || !existsSync(buildInfo)) return false;
  return !existsSync(src) || statSync(buildInfo).mtimeMs > newestMtime(src);
}

if (compiledIsFresh()) {
  const { main } = await import(pathToFileURL(compiled).href);
  await main();
} else if (existsSync(src)) {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../src/client.ts');
  await main();
} else {
  process.stderr.write('error: neither dist/ nor src/ is here: run npm run build\n');
  process.exitCode = 1;
}
