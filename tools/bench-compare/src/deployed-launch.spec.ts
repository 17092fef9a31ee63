import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deployedLaunch } from '../../../bench/bench-util';

/** A checkout whose package.json has these scripts. */
function checkout(scripts: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'iks-launch-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ scripts }));
  return dir;
}

describe('deployedLaunch (how bench:compare runs each checkout’s apps)', () => {
  it('reads the variables and node flags of start:<app>', () => {
    const root = checkout({
      'start:ingest':
        'MALLOC_ARENA_MAX=2 node --max-semi-space-size=4 --max-old-space-size=128 dist/apps/ingest/src/main.js',
      'start:sink': 'node dist/apps/sink/src/main.js',
    });
    expect(deployedLaunch(root, 'ingest')).toEqual({
      nodeFlags: ['--max-semi-space-size=4', '--max-old-space-size=128'],
      env: { MALLOC_ARENA_MAX: '2' },
    });
    // an older checkout: no variables
    expect(deployedLaunch(root, 'sink', ['--x'])).toEqual({ nodeFlags: [], env: {} });
  });

  it('falls back when the script is missing or of another form, or there is no package.json', () => {
    const root = checkout({ 'start:transformer': 'npm run build && node dist/apps/transformer/src/main.js' });
    expect(deployedLaunch(root, 'transformer', ['--f'])).toEqual({ nodeFlags: ['--f'], env: {} });
    expect(deployedLaunch(root, 'ingest', ['--f'])).toEqual({ nodeFlags: ['--f'], env: {} });
    expect(deployedLaunch(join(root, 'nowhere'), 'ingest')).toEqual({ nodeFlags: [], env: {} });
  });
});
