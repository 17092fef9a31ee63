import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The TypeScript sources below `dir`: specs, `__tests__` and node_modules left out. */
export function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== 'node_modules' && name !== '__tests__') out.push(...sourceFiles(path));
    } else if (name.endsWith('.ts') && !/\.(spec|integration-spec|e2e-spec)\.ts$/.test(name)) {
      out.push(path);
    }
  }
  return out;
}
