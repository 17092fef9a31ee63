/**
 * Preloaded into a bench child (`node --require dist/bench/support/cpu-prof-preload.js ...`) when
 * the bench takes CPU profiles (BENCH_CPU_PROF): the message `cpu-prof:start` on the IPC channel
 * starts V8's sampling profiler (through the in-process inspector session, as `--cpu-prof` does),
 * `cpu-prof:stop` stops it and writes the profile (.cpuprofile, Chrome DevTools format) to
 * BENCH_CPU_PROF_FILE, then answers `cpu-prof:written`.
 *
 * Why not `--cpu-prof`: it covers the whole life of the process (start-up, set-up, shutdown) and
 * writes only on a normal exit, while Nest's shutdown hooks end the apps by re-raising SIGTERM
 * (no profile). Why not a signal: Nest's enableShutdownHooks() without a list closes the app on
 * SIGUSR2 (and SIGHUP, ...). The IPC channel is unref'd: it never keeps an app alive.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const file = process.env.BENCH_CPU_PROF_FILE;
// the bench's only side channel into a child; the apps never read it
const intervalUs = Number(process.env.BENCH_CPU_PROF_INTERVAL_US ?? 1000);
/**
 * BENCH_CPU_PROF_KIND=alloc: instead of CPU, V8's sampling heap profiler over the same window,
 * counting the objects collected since (every allocation, not only what is still alive): where
 * the garbage comes from. The file is then a .heapprofile (Chrome DevTools format).
 */
const alloc = process.env.BENCH_CPU_PROF_KIND === 'alloc';

if (file) {
  let session: Session | null = null;
  /** One inspector command; R is what the DevTools protocol documents as its result. */
  const post = <R = unknown>(method: string, params?: object): Promise<R> =>
    new Promise((res, rej) => session!.post(method, params ?? {}, (err, r) => (err ? rej(err) : res(r as R))));

  const reply = (m: string) => process.send?.(m);
  process.on('message', (m) => {
    if (m === 'cpu-prof:start' && !session) {
      session = new Session();
      session.connect();
      void (
        alloc
          ? post('HeapProfiler.enable').then(() =>
              post('HeapProfiler.startSampling', {
                samplingInterval: 16384,
                includeObjectsCollectedByMajorGC: true,
                includeObjectsCollectedByMinorGC: true,
              }),
            )
          : post('Profiler.enable')
              .then(() => post('Profiler.setSamplingInterval', { interval: intervalUs }))
              .then(() => post('Profiler.start'))
      )
        .then(() => process.stderr.write(`cpu-prof: profiling (pid ${process.pid})\n`))
        .catch((e) => process.stderr.write(`cpu-prof: could not start: ${String(e)}\n`));
      return;
    }
    if (m !== 'cpu-prof:stop' || !session) return;
    const s = session;
    void post<{ profile: unknown }>(alloc ? 'HeapProfiler.stopSampling' : 'Profiler.stop')
      .then((r) => {
        writeFileSync(file, JSON.stringify(r.profile));
        process.stderr.write(`cpu-prof: wrote ${file}\n`);
        reply('cpu-prof:written');
      })
      .catch((e) => process.stderr.write(`cpu-prof: could not write ${file}: ${String(e)}\n`))
      .finally(() => {
        s.disconnect();
        if (session === s) session = null;
      });
  });
  process.channel?.unref();
}
