/**
 * npm run bench:profile -- [--top 25] [--events N] [--callers <text>] <file.cpuprofile>...
 *
 * Prints, per profile, where the sampled CPU time went (see cpuprofile-summary.ts); with
 * --callers, the heaviest call paths into the functions whose name/location contains <text>.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { callersOf, formatSummary, summarise, type CpuProfile } from './cpuprofile-summary';

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`must be a positive integer, got "${v}"`);
  return n;
}

const program = new Command('bench:profile')
  .description('top functions by self and inclusive time of V8 .cpuprofile files, our code vs libraries')
  .argument('<files...>', '.cpuprofile files (e.g. BENCH_CPU_PROF=dir npm run bench, then dir/*.cpuprofile)')
  .option('--top <n>', 'rows per list', positiveInt, 25)
  .option('--events <n>', 'events processed while profiling: adds µs per event', positiveInt)
  .option('--callers <text>', 'instead: the call paths into functions whose "name path:line" contains <text>')
  .action((files: string[], opts: { top: number; events?: number; callers?: string }) => {
    for (const f of files) {
      let profile: CpuProfile;
      try {
        profile = JSON.parse(readFileSync(f, 'utf8')) as CpuProfile;
      } catch (e) {
        throw new Error(`${f}: not a readable .cpuprofile (${(e as Error).message})`, { cause: e });
      }
      if (!Array.isArray(profile.nodes) || !Array.isArray(profile.samples) || !Array.isArray(profile.timeDeltas)) {
        throw new Error(`${f}: not a V8 CPU profile (needs nodes, samples, timeDeltas)`);
      }
      if (opts.callers) {
        process.stdout.write(
          `== ${basename(f)}: call paths into "${opts.callers}" (inclusive ms, callee < caller < ...)\n`,
        );
        for (const p of callersOf(profile, opts.callers).slice(0, opts.top))
          process.stdout.write(`   ${(p.us / 1000).toFixed(1).padStart(8)}  ${p.path.join('  <  ')}\n`);
        process.stdout.write('\n');
        continue;
      }
      process.stdout.write(`${formatSummary(basename(f), summarise(profile), opts)}\n\n`);
    }
  });

program.parseAsync(process.argv).catch((e) => {
  process.stderr.write(`bench:profile: ${(e as Error).message}\n`);
  process.exit(1);
});
