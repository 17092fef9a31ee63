/**
 * Preloaded into a bench child (`node --require dist/bench/support/mem-trace-preload.js ...`) when
 * the bench traces memory (BENCH_MEM_TRACE=<dir>): every 50 ms it reads process.memoryUsage() and
 * keeps the sample with the highest RSS, and each part's own maximum, in BENCH_MEM_TRACE_FILE
 * (JSON, rewritten at most once a second while a new peak is seen; the apps end by re-raising
 * SIGTERM, so nothing can be written at exit). What a peak RSS is made of: V8's heap (used and
 * reserved), external memory (Buffers, zlib) and what is neither (native allocations, code).
 * BENCH_MEM_SNAPSHOT_MIB=<n> (the bench's BENCH_MEM_SNAPSHOT=<app>:<n>): the first time RSS passes n MiB, a heap snapshot is written beside
 * the file (<file>.heapsnapshot; it stops the process for seconds: for finding what, not how much).
 */
import { writeFileSync } from 'node:fs';
import { writeHeapSnapshot } from 'node:v8';

const file = process.env.BENCH_MEM_TRACE_FILE;
if (file) {
  type Sample = NodeJS.MemoryUsage & { atMs: number };
  const started = Date.now();
  let atPeak: Sample | undefined;
  const max: Partial<Record<keyof NodeJS.MemoryUsage, number>> = {};
  let dirty = false;
  let lastWrite = 0;
  const snapshotAt = Number(process.env.BENCH_MEM_SNAPSHOT_MIB ?? 0) * 1024 * 1024;
  let snapshotted = false;
  const write = () => {
    writeFileSync(file, JSON.stringify({ atPeak, max }));
    dirty = false;
    lastWrite = Date.now();
  };
  setInterval(() => {
    const m = process.memoryUsage();
    for (const k of Object.keys(m) as Array<keyof NodeJS.MemoryUsage>) max[k] = Math.max(max[k] ?? 0, m[k]);
    if (!atPeak || m.rss > atPeak.rss) {
      atPeak = { ...m, atMs: Date.now() - started };
      dirty = true;
    }
    if (snapshotAt > 0 && !snapshotted && m.rss >= snapshotAt) {
      snapshotted = true;
      writeHeapSnapshot(`${file}.heapsnapshot`);
    }
    if (dirty && Date.now() - lastWrite >= 1000) write();
  }, 50).unref();
}
