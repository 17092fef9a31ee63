import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { runChaos } from '../../chaos/chaos-runner';

/**
 * `npm run chaos -- --fast` in CI: the fast fault scenarios against the BUILT apps (child
 * processes), every verdict must pass. Builds first when dist/ is missing.
 */
describe('chaos (fast scenarios) against the built apps', () => {
  it('keeps every promise: nothing lost, nothing doubled, poison dead-lettered, recovers', async () => {
    const root = join(__dirname, '..', '..');
    if (
      !existsSync(join(root, 'dist', 'apps', 'sink', 'src', 'main.js')) ||
      !existsSync(join(root, 'dist', 'chaos', 'webhook-poster.js'))
    )
      execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
    const lines: string[] = [];
    const results = await runChaos({ fast: true, log: (l) => lines.push(l) });
    process.stdout.write(`${lines.join('\n')}\n`);
    expect(results.length).toBeGreaterThanOrEqual(8);
    expect(results.filter((r) => !r.pass).map((r) => `${r.name}: ${r.problems.join('; ')}`)).toEqual([]);
  }, 480_000);
});
