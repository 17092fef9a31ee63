import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sourceFiles } from './source-files';

/**
 * docs/ARCHITECTURE.md against the code (issue #21): the libs each app imports, as listed after
 * `→` in the tree at the top of the page, are those its source (specs left out) imports; every
 * lib and app has its line there, and no line names one that does not exist.
 */
const ROOT = join(__dirname, '..', '..');
const DOC = readFileSync(join(ROOT, 'docs', 'ARCHITECTURE.md'), 'utf8');

/** The @iks/* libs a piece of source imports (static `from '…'` and dynamic `import('…')`). */
function libsImported(text: string): string[] {
  return [...text.matchAll(/(?:from\s+|import\s*\()\s*'(@iks\/[a-z-]+)'/g)].map((m) => m[1]);
}

/** The tree's entries (the first fenced block): `apps/x` or `libs/x` at the line start, with its indented continuation lines. */
function treeEntries(doc: string): Map<string, string> {
  const block = /```\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
  const entries = new Map<string, string>();
  let current: string | null = null;
  for (const line of block.split('\n')) {
    const head = /^((?:apps|libs)\/[a-z-]+)\s/.exec(line);
    if (head) {
      current = head[1];
      entries.set(current, line.slice(head[1].length));
    } else if (current && /^\s+\S/.test(line)) {
      entries.set(current, `${entries.get(current)} ${line.trim()}`);
    } else {
      current = null;
    }
  }
  return entries;
}

const dirs = (parent: string) =>
  readdirSync(join(ROOT, parent))
    .filter((d) => statSync(join(ROOT, parent, d)).isDirectory())
    .map((d) => `${parent}/${d}`)
    .sort();

describe('docs/ARCHITECTURE.md matches the code', () => {
  const entries = treeEntries(DOC);

  it('has one line per app and per lib, and none for a folder that does not exist', () => {
    expect([...entries.keys()].sort()).toEqual([...dirs('apps'), ...dirs('libs')].sort());
  });

  it.each(dirs('apps'))('%s: the libs after → are the ones it imports', (app) => {
    const listed = (entries.get(app) ?? '').split('→')[1] ?? '';
    const imported = new Set(sourceFiles(join(ROOT, app)).flatMap((f) => libsImported(readFileSync(f, 'utf8'))));
    expect([...new Set(listed.match(/@iks\/[a-z-]+/g) ?? [])].sort()).toEqual([...imported].sort());
  });

  it('reads the imports and the tree as written', () => {
    expect(libsImported(`import { a } from '@iks/kafka';\nconst m = await import('@iks/ops');\n// '@iks/x'`)).toEqual([
      '@iks/kafka',
      '@iks/ops',
    ]);
    const tree = treeEntries('```\napps/a   what → @iks/x,\n          @iks/y\nlibs/b   b\n\ntools/   t\n```');
    expect(Object.fromEntries(tree)).toEqual({ 'apps/a': '   what → @iks/x, @iks/y', 'libs/b': '   b' });
  });
});
