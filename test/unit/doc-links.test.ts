import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * The docs link to each other by relative paths and heading anchors, and source comments cite
 * their headings: a page moved or a heading renamed must fail here, not in a reader's browser.
 * Every relative link in README.md, docs/*.md and bench/README.md must name a file or folder of
 * the repository, and a `#anchor` must name a heading of the page it points to (GitHub's slugs).
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function docFiles(): string[] {
  const docsDir = path.join(ROOT, 'docs');
  const docs = existsSync(docsDir) ? readdirSync(docsDir).filter((f) => f.endsWith('.md')).sort().map((f) => path.join(docsDir, f)) : [];
  return [path.join(ROOT, 'README.md'), ...docs, path.join(ROOT, 'bench', 'README.md')];
}

/** Lines outside fenced code blocks, with their 1-based numbers; fenced lines come back empty. */
function proseLines(text: string): string[] {
  let fence: string | null = null;
  return text.split('\n').map((line) => {
    const marker = /^\s{0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence === null && marker) {
      fence = marker;
      return '';
    }
    if (fence !== null) {
      if (marker && marker[0] === fence[0] && marker.length >= fence.length && line.trim() === marker) fence = null;
      return '';
    }
    return line;
  });
}

/** Inline code spans hold text, not links: `[urls]` in a code span is not a link. */
function withoutCodeSpans(line: string): string {
  return line.replace(/(`+)[^`]*?\1/g, (span) => ' '.repeat(span.length));
}

/**
 * GitHub's heading anchor (github-slugger): the heading's rendered text, lower-cased, every
 * punctuation and symbol character dropped (letters, digits, marks, `_`, `-` and spaces stay),
 * each space made a hyphen.
 */
export function slug(heading: string): string {
  const rendered = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .replace(/<[^>]+>/g, '') // inline HTML
    .replace(/\*{1,3}([^*]+)\*{1,3}/g, '$1') // emphasis with *
    .replace(/(^|[^\p{L}\p{N}])_{1,3}([^_]+?)_{1,3}(?=$|[^\p{L}\p{N}])/gu, '$1$2') // with _, never inside a word
    .replace(/`/g, '');
  return rendered
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** Every heading anchor of a markdown page, with GitHub's -1, -2 … for repeated headings. */
export function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(text)) {
    const m = /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

interface Link {
  line: number;
  target: string;
}

/** The `[text](target)` and `![alt](target)` links of a page, outside code. */
export function linksOf(text: string): Link[] {
  const links: Link[] = [];
  proseLines(text).forEach((raw, i) => {
    const line = withoutCodeSpans(raw);
    for (const m of line.matchAll(/\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g)) {
      links.push({ line: i + 1, target: m[1]!.replace(/^<|>$/g, '') });
    }
  });
  return links;
}

/** Why a link does not resolve, or undefined when it does. External links are not checked here. */
function brokenReason(file: string, target: string, anchorCache: Map<string, Set<string>>): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined; // https:, mailto: …
  const hash = target.indexOf('#');
  const pathPart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
  const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const resolved = pathPart === '' ? file : pathPart.startsWith('/') ? path.join(ROOT, pathPart) : path.resolve(path.dirname(file), pathPart);
  const relative = path.relative(ROOT, resolved);
  if (relative.startsWith('..') || path.isAbsolute(relative)) return `${target} points outside the repository`;
  if (!existsSync(resolved)) return `${target}: no such file (${relative})`;
  if (anchor === undefined) return undefined;
  if (statSync(resolved).isDirectory() || !resolved.endsWith('.md')) return `${target}: an anchor into ${relative}, which is not a markdown page`;
  let anchors = anchorCache.get(resolved);
  if (!anchors) {
    anchors = anchorsOf(readFileSync(resolved, 'utf8'));
    anchorCache.set(resolved, anchors);
  }
  if (!anchors.has(anchor)) return `${target}: ${relative} has no heading #${anchor}`;
  return undefined;
}

test('slugs follow GitHub: lower case, punctuation dropped, spaces to hyphens, repeats numbered', () => {
  assert.equal(slug('Retries and limits'), 'retries-and-limits');
  assert.equal(slug('`store`: rows by primary key'), 'store-rows-by-primary-key');
  assert.equal(slug("Each endpoint's head is tracked"), 'each-endpoints-head-is-tracked');
  assert.equal(slug('db.query'), 'dbquery');
  assert.equal(slug('Pause, resume, stop'), 'pause-resume-stop');
  assert.equal(slug('Bloom re-check cost'), 'bloom-re-check-cost');
  assert.equal(slug('indexer_rpc_… metrics'), 'indexer_rpc_-metrics');
  assert.equal(slug('See [the stream](stream.md)'), 'see-the-stream');
  assert.equal(slug('An _important_ note'), 'an-important-note');
  assert.deepEqual([...anchorsOf('# A\n## Notes\n```\n# not a heading\n```\n### Notes\n')], ['a', 'notes', 'notes-1']);
  assert.deepEqual(
    linksOf('[a](x.md) `[b](y.md)` ![c](img/c.png "title")\n```\n[d](z.md)\n```\n[e](<with space.md#part>)').map((l) => l.target),
    ['x.md', 'img/c.png', 'with space.md#part'],
  );
});

test('every relative link in README.md, docs/ and bench/README.md resolves, anchors included', () => {
  const files = docFiles();
  assert.ok(files.length >= 3 && files.some((f) => f.includes(`${path.sep}docs${path.sep}`)), 'docs/ holds the reference pages');
  const anchorCache = new Map<string, Set<string>>();
  const broken: string[] = [];
  let checked = 0;
  for (const file of files) {
    assert.ok(existsSync(file), `${path.relative(ROOT, file)} exists`);
    const links = linksOf(readFileSync(file, 'utf8'));
    for (const link of links) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link.target)) continue;
      checked += 1;
      const reason = brokenReason(file, link.target, anchorCache);
      if (reason) broken.push(`${path.relative(ROOT, file)}:${link.line}: ${reason}`);
    }
  }
  assert.ok(checked > 0, 'the pages link to each other');
  assert.deepEqual(broken, [], `broken links:\n${broken.join('\n')}`);
});
