/**
 * The record batch codecs on real-shaped webhook JSON (issue #20, round 3): CPU µs per record to
 * compress and to decompress a batch of K records, K = 1, 4, 16, 100, and the ratio, for
 *   gzip3     zlib.gzipSync level 3 / unzipSync (the codec our producers used until 2026-12-07)
 *   lz4       this repository's frame codec (libs/kafka/src/lz4-frame.ts: lz4-napi blocks)
 *   lz4f-napi lz4-napi's own frame API (compressFrameSync / decompressFrameSync), for reference
 * A batch is K webhook bodies of the Intercom emulator's conversation and ticket lifecycles
 * joined (300 distinct batches per K, cycled), each call timed by process.cpuUsage over
 * BENCH_ROUNDS (default 20) passes, interleaved codec by codec, the median pass reported.
 *
 * Run: npm run bench:codec (BENCH_ROUNDS to change the passes)
 */
import { gzipSync, unzipSync } from 'node:zlib';
import { compressFrameSync, decompressFrameSync } from 'lz4-napi';
import {
  conversationLifecycle,
  createRng,
  makeAdmin,
  makeContact,
  makeTeam,
  ticketLifecycle,
} from '../tools/intercom-emulator/src';
import { decodeLz4Frames, encodeLz4Frame } from '../libs/kafka/src/lz4-frame';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);

function bodies(): string[] {
  const admin = makeAdmin({ name: 'Bench Admin' });
  const team = makeTeam({ name: 'Support' });
  const out: string[] = [];
  const startAt = Math.floor(Date.now() / 1000);
  for (let c = 0; c < 60; c += 1) {
    const contact = makeContact({}, createRng(c + 1));
    for (const n of conversationLifecycle({ contact, admin, team, startAt, seed: 2 * c, id: String(1000 + 2 * c) })) {
      out.push(JSON.stringify(n));
    }
    for (const n of ticketLifecycle({ contact, admin, team, startAt, seed: 2 * c + 1, id: String(1001 + 2 * c) })) {
      out.push(JSON.stringify(n));
    }
  }
  return out;
}

interface Codec {
  name: string;
  compress: (b: Buffer) => Buffer;
  decompress: (b: Buffer) => Buffer;
}

const codecs: Codec[] = [
  { name: 'gzip3', compress: (b) => gzipSync(b, { level: 3 }), decompress: (b) => unzipSync(b) },
  { name: 'lz4', compress: encodeLz4Frame, decompress: decodeLz4Frames },
  { name: 'lz4f-napi', compress: (b) => compressFrameSync(b), decompress: (b) => decompressFrameSync(b) },
];

function cpuMicros(fn: () => void): number {
  const t0 = process.cpuUsage();
  fn();
  const t = process.cpuUsage(t0);
  return t.user + t.system;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function main(): void {
  const all = bodies();
  const avg = all.reduce((n, b) => n + b.length, 0) / all.length;
  console.log(`${all.length} webhook bodies, ${avg.toFixed(0)} B on average; ${ROUNDS} passes per figure, median`);
  console.log('records  codec       compress µs/rec  decompress µs/rec  ratio');
  for (const k of [1, 4, 16, 100]) {
    const batches = Array.from({ length: 300 }, (_, j) =>
      Buffer.from(Array.from({ length: k }, (_, i) => all[(j + i) % all.length]).join('')),
    );
    const raw = batches.reduce((n, b) => n + b.length, 0);
    const compressed = new Map(codecs.map((c) => [c.name, batches.map(c.compress)]));
    for (const c of codecs) {
      const back = compressed.get(c.name)!.map(c.decompress);
      if (back.some((b, i) => !b.equals(batches[i]))) throw new Error(`${c.name} does not round-trip`);
    }
    const times = new Map(codecs.map((c) => [c.name, { c: [] as number[], d: [] as number[] }]));
    for (let r = 0; r < ROUNDS + 2; r += 1) {
      for (const c of codecs) {
        const packed = compressed.get(c.name)!;
        const tc = cpuMicros(() => batches.forEach((b) => c.compress(b)));
        const td = cpuMicros(() => packed.forEach((b) => c.decompress(b)));
        if (r >= 2) {
          times.get(c.name)!.c.push(tc / (batches.length * k));
          times.get(c.name)!.d.push(td / (batches.length * k));
        }
      }
    }
    for (const c of codecs) {
      const t = times.get(c.name)!;
      const size = compressed.get(c.name)!.reduce((n, b) => n + b.length, 0);
      console.log(
        `${String(k).padStart(7)}  ${c.name.padEnd(10)}  ${median(t.c).toFixed(2).padStart(15)}  ${median(t.d).toFixed(2).padStart(17)}  ${(raw / size).toFixed(1).padStart(5)}`,
      );
      console.log(
        `figure k${k}.${c.name}.compress_us_per_record ${median(t.c).toFixed(3)} us\nfigure k${k}.${c.name}.decompress_us_per_record ${median(t.d).toFixed(3)} us\nfigure k${k}.${c.name}.ratio ${(raw / size).toFixed(2)} x`,
      );
    }
  }
}

main();
