/**
 * npm run bench:compare -- <git-ref> [--bench e2e|ingest|transform|sink] [--rounds N] [--harness current|ref]
 *                                     [--filter <regex>] [--rebuild] [--out <dir>]
 *
 * Builds <git-ref> in a worktree (ref-build.ts), then runs the chosen bench for the ref and for
 * the current tree alternately (ABBA: ref first in odd rounds, current first in even ones, so a
 * machine that slows down or speeds up during the comparison does not favour one side), N rounds,
 * and prints every figure's runs side by side with medians and current/ref.
 *
 * Which harness: the e2e bench starts the built apps as child processes, so by default the
 * CURRENT tree's e2e harness runs the ref's built apps too (BENCH_APPS_DIST=<ref>/dist): both
 * sides print the same figures, an old ref included, and the load, the emulator and the
 * measuring are identical; only the apps differ. This needs the ref's apps to take the
 * environment the current harness gives them (topic prefix, group ids, ports); for a ref where
 * they do not, --harness ref runs the ref's own e2e bench and reads whatever it prints. The
 * ingest, transform and sink benches run the app code in-process, so each side always runs its
 * own bench; their plain lines are parsed (tools/support/bench-figures.ts: figure lines where a
 * bench prints them, else the labelled lines).
 *
 * The bench's own knobs (BENCH_N, BENCH_RATE_S, ...) pass through to every run (BENCH_CPU_PROF=dir
 * becomes dir/round<i>-<side>). Every run's full output is kept in --out (default
 * <tmp>/iks-bench-compare/runs-<time>).
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseBenchOutput } from '../../support/bench-figures';
import { compareRuns, formatTable, roundOrder, type Run, type Side } from './compare-table';
import { prepareRef } from './ref-build';

const ROOT = resolve(__dirname, '../../../..');
const BENCH_FILES = {
  e2e: 'e2e.bench.js',
  ingest: 'ingest.bench.js',
  transform: 'transform.bench.js',
  sink: 'sink.bench.js',
} as const;
type BenchName = keyof typeof BENCH_FILES;

interface Options {
  bench: BenchName;
  rounds: number;
  harness: 'current' | 'ref';
  filter?: string;
  rebuild?: boolean;
  out?: string;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`must be a positive integer, got "${v}"`);
  return n;
}

const say = (l: string) => process.stdout.write(`bench:compare: ${l}\n`);

/** One bench run; resolves with its whole output and whether it exited 0. */
function runBench(
  script: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
  logFile: string,
): Promise<{ ok: boolean; output: string; ms: number }> {
  return new Promise((res) => {
    const t0 = Date.now();
    const log = createWriteStream(logFile);
    const chunks: Buffer[] = [];
    const child = spawn(process.execPath, [script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const s of [child.stdout, child.stderr]) {
      s.on('data', (d: Buffer) => {
        chunks.push(d);
        log.write(d);
      });
    }
    const stop = () => child.kill('SIGINT');
    process.once('SIGINT', stop);
    child.on('close', (code, signal) => {
      process.removeListener('SIGINT', stop);
      log.end();
      res({
        ok: code === 0,
        output: Buffer.concat(chunks).toString('utf8') + (code === 0 ? '' : `\n(exit ${code ?? signal})`),
        ms: Date.now() - t0,
      });
    });
  });
}

async function compare(ref: string, opts: Options): Promise<void> {
  if (opts.harness === 'ref' && opts.bench !== 'e2e')
    say(`--harness applies to e2e only; ${opts.bench} always runs each side's own bench`);
  const filter = opts.filter ? new RegExp(opts.filter) : undefined;
  const build = prepareRef(ROOT, ref, { rebuild: opts.rebuild, log: say });
  const benchFile = BENCH_FILES[opts.bench];
  const currentScript = join(ROOT, 'dist', 'bench', benchFile);
  const ownHarness = opts.bench !== 'e2e' || opts.harness === 'ref';
  const refScript = ownHarness ? join(build.dir, 'dist', 'bench', benchFile) : currentScript;
  if (!existsSync(currentScript)) throw new Error(`${currentScript} is missing: npm run build first`);
  if (!existsSync(refScript))
    throw new Error(`${ref} has no ${join('dist', 'bench', benchFile)} after its build: it has no ${opts.bench} bench`);
  if (!ownHarness) {
    for (const app of ['ingest', 'transformer', 'sink']) {
      const main = join(build.dir, 'dist', 'apps', app, 'src', 'main.js');
      if (!existsSync(main))
        throw new Error(`${ref} has no ${main}: the current harness cannot start its apps; try --harness ref`);
    }
  }
  const outDir = resolve(
    opts.out ?? join(tmpdir(), 'iks-bench-compare', `runs-${new Date().toISOString().replace(/[:.]/g, '-')}`),
  );
  mkdirSync(outDir, { recursive: true });
  say(
    `${opts.bench} bench, ${opts.rounds} round(s), ref ${ref} (${build.sha.slice(0, 12)}, ${build.dir}, node_modules ${build.nodeModules}) vs the current tree (${ROOT})`,
  );
  say(
    opts.bench === 'e2e'
      ? ownHarness
        ? `harness: each side's own e2e bench (--harness ref)`
        : `harness: the current tree's e2e bench for both; the ref's built apps via BENCH_APPS_DIST=${join(build.dir, 'dist')}`
      : `harness: each side's own ${opts.bench} bench (the app code runs in-process)`,
  );
  say(`outputs in ${outDir}`);

  const runs: Run[] = [];
  for (let round = 1; round <= opts.rounds; round++) {
    for (const side of roundOrder(round)) {
      const env: NodeJS.ProcessEnv = { ...process.env };
      delete env.BENCH_APPS_DIST;
      if (side === 'ref' && !ownHarness) env.BENCH_APPS_DIST = join(build.dir, 'dist');
      // each run's profiles in their own directory (the runs would overwrite each other's)
      if (env.BENCH_CPU_PROF) env.BENCH_CPU_PROF = join(resolve(env.BENCH_CPU_PROF), `round${round}-${side}`);
      const script = side === 'ref' ? refScript : currentScript;
      const cwd = side === 'ref' && ownHarness ? build.dir : ROOT;
      const logFile = join(outDir, `round${round}-${side}.log`);
      say(`round ${round}/${opts.rounds}: ${side} ...`);
      const r = await runBench(script, cwd, env, logFile);
      const parsed = parseBenchOutput(r.output);
      runs.push({ side, round, ok: r.ok, figures: parsed.figures });
      say(
        `round ${round}/${opts.rounds}: ${side} ${r.ok ? 'done' : 'FAILED'} in ${(r.ms / 1000).toFixed(0)} s, ${parsed.figures.length} figures (${parsed.source}); ${logFile}`,
      );
    }
  }
  const failed = runs.filter((r) => !r.ok);
  const label = (side: Side) => {
    const xs = runs.filter((r) => r.side === side).map((r) => `r${r.round}${r.ok ? '' : '!'}`);
    return `${side === 'ref' ? `ref ${ref}` : 'current'} (${xs.join(' / ')})`;
  };
  process.stdout.write(
    `\n== bench:compare ${opts.bench}: ${ref} (${build.sha.slice(0, 12)}) vs current, ${opts.rounds} round(s), runs in run order\n`,
  );
  process.stdout.write(`${formatTable(compareRuns(runs, filter), { ref: label('ref'), current: label('current') })}\n`);
  if (failed.length > 0) {
    process.stdout.write(
      `\n${failed.length} run(s) failed (marked !; their figures are what they printed before failing): ${failed.map((r) => `round ${r.round} ${r.side}`).join(', ')}\n`,
    );
    process.exitCode = 1;
  }
}

const program = new Command('bench:compare')
  .description(
    "runs a bench for a git ref (built in a worktree) and for the current tree, alternately, and prints each figure's runs side by side",
  )
  .argument('<git-ref>', 'the commit, branch or tag to compare with (e.g. main)')
  .addOption(new Option('--bench <name>', 'which bench').choices(Object.keys(BENCH_FILES)).default('e2e'))
  .option('--rounds <n>', 'rounds (each: one run of each side)', positiveInt, 3)
  .addOption(
    new Option('--harness <which>', "e2e only: whose bench drives the ref's apps")
      .choices(['current', 'ref'])
      .default('current'),
  )
  .option('--filter <regex>', 'only the figures whose name matches')
  .option('--rebuild', 'build the ref again even if a finished build is there')
  .option('--out <dir>', "where to keep every run's output")
  .action((ref: string, opts: Options) => compare(ref, opts));

program.parseAsync(process.argv).catch((e) => {
  process.stderr.write(`bench:compare: ${(e as Error).message}\n`);
  process.exit(1);
});
