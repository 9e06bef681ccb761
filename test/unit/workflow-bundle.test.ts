import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withoutSourcesContent } from '../../src/worker/workflow-bundle';

const inlineMap = (map: object) => `//# sourceMappingURL=data:application/json;charset=utf-8;base64,${Buffer.from(JSON.stringify(map)).toString('base64')}`;
const mapOf = (bundle: string) => JSON.parse(Buffer.from(bundle.slice(bundle.lastIndexOf('base64,') + 'base64,'.length), 'base64').toString('utf8')) as Record<string, unknown>;

test("a bundle's inline source map keeps its mappings and loses the sources' text; the code is untouched", () => {
  const code = 'var a = 1;\n// base64, in a comment of the code\nconsole.log(a);\n';
  const map = { version: 3, file: 'workflows.js', sources: ['webpack://x/./src/workflows/indexer.ts'], names: ['a'], mappings: 'AAAA,IAAIA', sourcesContent: ['const a = 1;'] };
  const out = withoutSourcesContent(`${code}${inlineMap(map)}\n`);
  assert.ok(out.startsWith(`${code}//# sourceMappingURL=data:application/json;charset=utf-8;base64,`));
  const { sourcesContent, ...rest } = map;
  assert.deepEqual(mapOf(out), rest);
  assert.equal(sourcesContent.length, 1);
});

test('a bundle without an inline source map is refused, naming why', () => {
  assert.throws(() => withoutSourcesContent('var a = 1;\n'), /no inline source map/);
});
