import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const raw = readFileSync(join(ROOT, 'nest-cli.json'), 'utf8');
const cli = JSON.parse(raw) as {
  projects: Record<string, { type: string; root: string; sourceRoot: string; entryFile?: string }>;
};
const folders = (parent: string) =>
  readdirSync(join(ROOT, parent))
    .filter((f) => statSync(join(ROOT, parent, f)).isDirectory())
    .map((f) => `${parent}/${f}`);

describe('nest-cli.json', () => {
  it('has no repeated project key (JSON.parse would keep the last one silently)', () => {
    const projects = raw.slice(raw.indexOf('"projects"'));
    const keys = [...projects.matchAll(/^\s*"([^"]+)":\s*\{\s*"type"/gm)].map((m) => m[1]);
    expect(keys.length).toBe(Object.keys(cli.projects).length);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('lists every app (with its main.ts) and every lib exactly once', () => {
    const byRoot = new Map<string, string[]>();
    for (const [name, p] of Object.entries(cli.projects)) byRoot.set(p.root, [...(byRoot.get(p.root) ?? []), name]);
    for (const app of folders('apps')) {
      const [name, ...more] = byRoot.get(app) ?? [];
      expect({ app, name, more }).toEqual({ app, name: expect.any(String), more: [] });
      const p = cli.projects[name];
      expect(p).toMatchObject({ type: 'application', sourceRoot: `${app}/src`, entryFile: 'main' });
      expect(statSync(join(ROOT, p.sourceRoot, `${p.entryFile}.ts`)).isFile()).toBe(true);
    }
    for (const lib of folders('libs')) {
      const [name, ...more] = byRoot.get(lib) ?? [];
      expect({ lib, name, more }).toEqual({ lib, name: expect.any(String), more: [] });
      expect(cli.projects[name]).toMatchObject({ type: 'library', sourceRoot: `${lib}/src` });
    }
    expect(byRoot.size).toBe(folders('apps').length + folders('libs').length);
  });
});
