/**
 * A git ref checked out and built beside the current tree: `git worktree add --detach` under
 * <tmp>/iks-bench-compare/<sha>, its own `npm ci` unless its package-lock.json is byte-identical
 * to the current tree's (then node_modules is a symlink to the current tree's), `npm run build`.
 * Kept for the next comparison of the same commit (a marker file says the build finished);
 * `git worktree remove --force <dir>` removes it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RefBuild {
  readonly ref: string;
  readonly sha: string;
  readonly dir: string;
  /** How node_modules was provided: shared (identical lock file) or its own npm ci. */
  readonly nodeModules: 'shared' | 'npm ci';
}

function run(cmd: string, args: string[], cwd: string, what: string, log: (l: string) => void): string {
  log(`$ (cd ${cwd} && ${cmd} ${args.join(' ')})`);
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) {
    throw new Error(
      `${what} failed (exit ${r.status ?? r.signal}):\n${`${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-30).join('\n')}`,
    );
  }
  return r.stdout;
}

/** The full commit sha of `ref` in the repository of `root`; a clear error for an unknown ref. */
export function resolveRef(root: string, ref: string): string {
  const r = spawnSync('git', ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0 || !r.stdout.trim())
    throw new Error(`unknown git ref "${ref}" (git rev-parse --verify found no commit)`);
  return r.stdout.trim();
}

/** Checks out and builds `ref` (or reuses a finished build of the same commit). */
export function prepareRef(
  root: string,
  ref: string,
  opts: { rebuild?: boolean; baseDir?: string; log: (l: string) => void },
): RefBuild {
  const sha = resolveRef(root, ref);
  const base = opts.baseDir ?? join(tmpdir(), 'iks-bench-compare');
  const dir = join(base, sha.slice(0, 12));
  const marker = join(dir, '.bench-compare-built');
  mkdirSync(base, { recursive: true });
  if (!existsSync(join(dir, '.git'))) {
    run('git', ['worktree', 'prune'], root, 'git worktree prune', opts.log);
    run('git', ['worktree', 'add', '--detach', dir, sha], root, `git worktree add ${dir}`, opts.log);
  }
  const refLock = run('git', ['show', `${sha}:package-lock.json`], root, 'git show package-lock.json', () => undefined);
  const curLock = readFileSync(join(root, 'package-lock.json'), 'utf8');
  const nodeModules: RefBuild['nodeModules'] = refLock === curLock ? 'shared' : 'npm ci';
  if (existsSync(marker) && !opts.rebuild) {
    opts.log(`reusing the build of ${ref} (${sha.slice(0, 12)}) in ${dir}`);
    return { ref, sha, dir, nodeModules };
  }
  if (!existsSync(join(dir, 'node_modules'))) {
    if (nodeModules === 'shared') {
      opts.log(`package-lock.json of ${ref} is identical: node_modules linked to ${join(root, 'node_modules')}`);
      symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    } else {
      opts.log(`package-lock.json of ${ref} differs: its own npm ci`);
      run('npm', ['ci', '--no-audit', '--no-fund'], dir, `npm ci in ${dir}`, opts.log);
    }
  }
  run('npm', ['run', 'build', '--silent'], dir, `npm run build in ${dir}`, opts.log);
  writeFileSync(marker, `${sha}\n`);
  return { ref, sha, dir, nodeModules };
}
