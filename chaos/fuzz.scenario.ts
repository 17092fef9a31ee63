import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createRng } from '../tools/intercom-emulator/src/rng';
import { waitUntil } from '../tools/support/wait-for';
import { sleep, type ChaosRig, type Webhook } from './chaos-rig';
import type { ScenarioRun } from './chaos-scenarios';
import { fuzzNotification, type FuzzKind } from './webhook-fuzzer';

/** ingest's INGEST_BODY_LIMIT_BYTES in the rig (the default). */
const OVER_LIMIT_BYTES = 1024 * 1024;

/** What ingest may answer a signed webhook, whatever its body: stored, refused, too large. */
const FINAL_ANSWERS = new Set([200, 400, 413]);

/**
 * `fuzzed` signed webhooks of random damage (webhook-fuzzer.ts) shuffled among `goods` good
 * conversations: every answer is 200/400/413 (never 5xx, never silence), ingest stays ready,
 * every good webhook is delivered, every accepted fuzzed one ends as the offline mapping says
 * (its events delivered, a counted skip) or in a dead-letter topic with a reason, and afterwards
 * every stage is ready with nothing left to do. CHAOS_SEED replays a run.
 */
export async function fuzzedWebhooks(rig: ChaosRig, goods: number, fuzzed: number): Promise<ScenarioRun> {
  const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000);
  const rng = createRng(seed);
  const good = rig.conversations(goods);
  // fuzz bases: conversations of their own (never sent intact), so no unique_id is shared with a good one
  const bases = rig.conversations(Math.ceil(fuzzed / 4)).map((w) => JSON.parse(w.body));
  const kinds = new Map<Webhook, FuzzKind>();
  const bad = Array.from({ length: fuzzed }, (_, i) => {
    const f = fuzzNotification(bases[i % bases.length], rng);
    const w = rig.rawWebhook(f.body, `${f.kind} ${f.where}`);
    kinds.set(w, f.kind);
    return w;
  });
  const all = [...good, ...bad];
  for (let i = all.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [all[i], all[j]] = [all[j], all[i]];
  }

  // this process posts the webhooks and answers as Klaviyo: a stall here is a "no answer" there
  const lag = monitorEventLoopDelay({ resolution: 20 });
  lag.enable();
  let red = 0;
  let probes = 0;
  let probing = true;
  const probe = (async () => {
    for (; probing; await sleep(250), probes++) if (!(await rig.ready('ingest'))) red++;
  })();
  const started = Date.now();
  await rig.post(all, 150);
  probing = false;
  await probe;
  const postMs = Date.now() - started;
  lag.disable();

  const broken: string[] = [];
  const odd = bad.filter((w) => w.answers.some((a) => !FINAL_ANSWERS.has(a)));
  for (const w of odd.slice(0, 5))
    broken.push(
      `answered ${w.answers.join(',')}${w.noAnswer ? ` (no answer: ${w.noAnswer.join(',')})` : ''}: ${w.id} (${w.body.length} bytes)`,
    );
  // issue #19: a body over ingest's limit must be answered 413 on its first try, never a reset
  const oversized = bad.filter((w) => Buffer.byteLength(w.body) > OVER_LIMIT_BYTES);
  const oversizedFirst = oversized.filter((w) => w.answers[0] === 413).length;
  const whyNone = new Map<string, number>();
  for (const w of [...good, ...bad]) for (const why of w.noAnswer ?? []) whyNone.set(why, (whyNone.get(why) ?? 0) + 1);
  if (odd.length > 0) broken.push(`${odd.length} fuzzed webhook(s) answered other than 200/400/413`);
  if (red > 0)
    broken.push(`ingest not ready (503 or no answer within 2 s) in ${red} of ${probes} probe(s) while fuzzed`);

  // what the transformer should make of each accepted fuzzed webhook
  const accepted = bad.filter((w) => w.status === 200);
  const fate = new Map(accepted.map((w) => [w, rig.predict(w.body)]));
  const idOf = (w: Webhook) => String((JSON.parse(w.body) as { id: unknown }).id);
  const pending = [...fate.values()].filter((f) => f.kind === 'pending').length;
  const goodIds = new Set(good.flatMap((w) => w.uniqueIds));
  await waitUntil(
    () => {
      const have = new Set(rig.klaviyo.store.events.map((e) => e.unique_id));
      return [...goodIds].every((id) => have.has(id));
    },
    { timeoutMs: 120_000, intervalMs: 200 },
  );
  // pending ones are retried until CONTACT_WAIT_MAX_MS, then dead-lettered
  if (pending > 0) await sleep(Number(rig.appEnv.CONTACT_WAIT_MAX_MS) + 10_000);
  await rig.quiet();

  const letters = new Map<string, string[]>();
  for (const l of await rig.deadLetterReasons()) letters.set(l.id, [...(letters.get(l.id) ?? []), l.reason]);
  // a webhook's dead letters: its notification's (transformer), or its events' (Klaviyo refused them)
  const lettersOf = (w: Webhook) => [idOf(w), ...fate.get(w)!.uniqueIds].flatMap((id) => letters.get(id) ?? []);
  const webhooks: Webhook[] = [...good];
  let deadLettered = 0;
  let skipped = 0;
  let delivered = 0;
  const unaccounted: string[] = [];
  for (const w of accepted) {
    const f = fate.get(w)!;
    const reasons = lettersOf(w);
    if (reasons.length > 0) {
      deadLettered++;
      if (reasons.some((r) => r.trim().length < 3)) broken.push(`dead letter without a reason: ${w.id}`);
      // its events Klaviyo did not refuse are still expected
      webhooks.push({ ...w, uniqueIds: letters.has(idOf(w)) ? [] : f.uniqueIds.filter((id) => !letters.has(id)) });
      continue;
    } else if (f.kind === 'events') {
      delivered++;
      webhooks.push({ ...w, uniqueIds: f.uniqueIds });
      continue;
    } else if (f.kind === 'skip') skipped++;
    else unaccounted.push(`${w.id}: expected ${f.kind}, not in a dead-letter topic`);
    webhooks.push(w);
  }
  for (const w of bad.filter((b) => b.status !== 200)) webhooks.push(w);
  for (const u of unaccounted.slice(0, 5)) broken.push(u);
  if (unaccounted.length > 0) broken.push(`${unaccounted.length} accepted fuzzed webhook(s) unaccounted for`);
  for (const name of ['ingest', 'transformer', 'sink'])
    if (!(await rig.ready(name))) broken.push(`${name} not ready after the fuzz (wedged)`);

  const byKind = new Map<string, number[]>();
  for (const w of bad) {
    const k = kinds.get(w)!;
    const c = byKind.get(k) ?? [0, 0, 0];
    c[w.status === 200 ? 0 : w.status === 400 ? 1 : 2]++;
    byKind.set(k, c);
  }
  const ourLetters = [...new Set(accepted.flatMap((w) => [idOf(w), ...fate.get(w)!.uniqueIds]))].reduce(
    (n, id) => n + (letters.get(id)?.length ?? 0),
    0,
  );
  const refused = bad.filter((w) => w.status === 400 || w.status === 413).length;
  return {
    webhooks,
    faultEndedAt: Date.now(),
    expectedRefused: refused,
    expectedDeadLetters: ourLetters,
    broken,
    notes: [
      `seed ${seed}: ${fuzzed} fuzzed among ${good.length} good, posted in ${postMs} ms; fuzzed answers 200/400/413 by kind: ${[...byKind].map(([k, c]) => `${k} ${c.join('/')}`).join(', ')}`,
      `over the body limit: ${oversized.length}, answered 413 on the first try: ${oversizedFirst}` +
        `${
          oversized.length > oversizedFirst
            ? ` (others first got ${oversized
                .filter((w) => w.answers[0] !== 413)
                .map((w) => w.noAnswer?.[0] ?? w.answers[0])
                .join(',')})`
            : ''
        }`,
      `no answer on a try: ${whyNone.size === 0 ? 'none' : [...whyNone].map(([why, n]) => `${n} ${why}`).join(', ')}; ` +
        `this process's event-loop delay while posting: p99 ${(lag.percentile(99) / 1e6).toFixed(0)} ms, max ${(lag.max / 1e6).toFixed(0)} ms`,
      `accepted fuzzed: ${accepted.length} = ${deadLettered} dead-lettered with a reason + ${delivered} still mapped and delivered + ${skipped} skipped (unmapped topic) + ${unaccounted.length} unaccounted`,
    ],
  };
}
