// Whether dist/ (npm run build) was built after the last change under src/: the CLI runs it only
// then, and the tests load its prebuilt workflow bundle only then, so nobody runs stale code.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** The newest modification time of any file under `dir`. */
function newestMtime(dir) {
  let newest = statSync(dir).mtimeMs;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(path.join(entry.parentPath ?? entry.path, entry.name)).mtimeMs);
  }
  return newest;
}

/** dist/ is complete (build-info.json is written last) and newer than src/ (or src/ is absent, as in the image). */
export function distIsFresh(root) {
  const buildInfo = path.join(root, 'dist', 'build-info.json');
  if (!existsSync(path.join(root, 'dist', 'indexer.js')) || !existsSync(buildInfo)) return false;
  const src = path.join(root, 'src');
  return !existsSync(src) || statSync(buildInfo).mtimeMs > newestMtime(src);
}
