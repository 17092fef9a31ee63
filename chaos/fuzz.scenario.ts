import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createRng } from '../tools/intercom-emulator/src/rng';
import { waitUntil } from '../tools/support/wait-for';
import { sleep, type ChaosRig, type Webhook } from './chaos-rig';
import type { ScenarioRun } from './chaos-scenarios';
import { accountFuzzed, judgeAnswers, type AcceptedFuzz } from './fuzz-accounting';
import { fuzzNotification, type FuzzKind } from './webhook-fuzzer';

/** ingest's INGEST_BODY_LIMIT_BYTES in the rig (the default). */
const OVER_LIMIT_BYTES = 1024 * 1024;

/**
 * Webhooks in flight at once (closed loop): the fuzz is about what bodies do, not about rate, so
 * the poster sends as fast as ingest answers, and a loaded machine makes the run longer rather
 * than burying ingest in timeouts and re-sends (the load scenarios keep their open-loop rates).
 */
const SENDERS = 24;

/** How long after the contact wait a pending webhook's dead letter may still come (retry backoff on a loaded machine), ms. */
const LATE_LETTERS_MS = 120_000;

/** Longest stretch ingest may be seen not ready while fuzzed (probes unanswered on a loaded machine), ms. */
const READY_GAP_MS = 15_000;

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
  // fuzz bases: conversations of their own (never sent intact), so no unique_id is shared with a
  // good one; numbered from the seed (the fuzzer's choices follow the bodies' shapes: a seed replays)
  const bases = rig.conversations(Math.ceil(fuzzed / 4), fuzzBaseId(seed)).map((w) => JSON.parse(w.body));
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
  // dead letters of earlier scenarios on this rig are not this one's
  const before = new Set((await rig.deadLetters()).map((l) => l.at));
  const storedBefore = rig.klaviyo.store.events.length;

  // the poster (a child process) posts and probes ingest; this process answers as Klaviyo
  const lag = monitorEventLoopDelay({ resolution: 20 });
  lag.enable();
  const started = Date.now();
  const posted = await rig.post(all, 0, 120_000, {
    probeReady: true,
    concurrency: SENDERS,
    totalMs: 600_000,
  });
  const postMs = Date.now() - started;
  lag.disable();

  const view = (w: Webhook) => ({
    label: w.id,
    bytes: Buffer.byteLength(w.body),
    answers: w.answers,
    noAnswer: w.noAnswer,
  });
  const judged = judgeAnswers(bad.map(view), OVER_LIMIT_BYTES);
  const goodJudged = judgeAnswers(good.map(view), OVER_LIMIT_BYTES);
  const broken: string[] = [...judged.broken, ...goodJudged.broken.map((b) => `good webhook: ${b}`)];
  // issue #19: a body over ingest's limit is answered 413 (judgeAnswers), here: on its first try
  const oversized = bad.filter((w) => Buffer.byteLength(w.body) > OVER_LIMIT_BYTES);
  const oversizedFirst = oversized.filter((w) => w.answers[0] === 413).length;
  const whyNone = new Map<string, number>();
  for (const w of [...good, ...bad]) for (const why of w.noAnswer ?? []) whyNone.set(why, (whyNone.get(why) ?? 0) + 1);
  // ingest stays ready while fuzzed: a probe may go unanswered on a loaded machine, a long red stretch is a wedge
  if (posted.longestRedMs > READY_GAP_MS)
    broken.push(
      `ingest not ready for ${posted.longestRedMs} ms on end while fuzzed (${posted.notReady} probe(s) answered not ready, ${posted.slow} unanswered within 2 s, of ${posted.probes})`,
    );

  // what the transformer should make of each accepted fuzzed webhook
  const acceptedHooks = bad.filter((w) => w.status === 200);
  const accepted: AcceptedFuzz[] = acceptedHooks.map((w) => ({ label: w.id, body: w.body, fate: rig.predict(w.body) }));
  const pending = accepted.filter((a) => a.fate.kind === 'pending').length;
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

  // A pending webhook's letter comes when its last retry is due (the retry topic's backoff), which
  // a loaded machine can put after the wait above (seed 30904: two contact-wait letters seconds
  // late): read again, bounded, until every accepted webhook is accounted for.
  const account = async () => {
    const seen = (await rig.deadLetters()).filter((l) => !before.has(l.at));
    const storedNow = rig.klaviyo.store.events.slice(storedBefore);
    return { seen, storedNow, a: accountFuzzed(accepted, seen, new Set(storedNow.map((e) => e.unique_id))) };
  };
  let { seen, storedNow, a } = await account();
  const lettersDue = Date.now() + LATE_LETTERS_MS;
  while (a.unaccounted.length > 0 && Date.now() < lettersDue) {
    await sleep(2000);
    await rig.quiet();
    ({ seen, storedNow, a } = await account());
  }
  const webhooks: Webhook[] = [...good];
  acceptedHooks.forEach((w, i) => webhooks.push({ ...w, uniqueIds: a.expected.get(accepted[i])! }));
  for (const w of bad.filter((b) => b.status !== 200)) webhooks.push(w);
  for (const [w, ls] of a.letters)
    if (ls.some((l) => l.reason.trim().length < 3)) broken.push(`dead letter without a reason: ${w.label}`);
  for (const u of a.unaccounted.slice(0, 5)) broken.push(u);
  if (a.unaccounted.length > 0) broken.push(`${a.unaccounted.length} accepted fuzzed webhook(s) unaccounted for`);
  for (const l of a.unattributed.slice(0, 5))
    broken.push(
      `dead letter of no accepted fuzzed webhook: ${l.at} ${l.reason.slice(0, 160)} (notification ${JSON.stringify(
        (l.notificationId ?? l.sourceNotificationId ?? '').slice(0, 60),
      )}, unique_id ${JSON.stringify((l.uniqueId ?? '').slice(0, 80))})`,
    );
  for (const u of a.storedAndLettered.slice(0, 5)) {
    const owner = accepted.find((w) => w.fate.uniqueIds.includes(u))!;
    broken.push(
      `Klaviyo holds ${JSON.stringify(u)} although it was dead-lettered (${owner.label}: ${a.letters
        .get(owner)!
        .map((l) => `${l.topic}: ${l.reason.slice(0, 160)}`)
        .join('; ')})`,
    );
  }
  // a unique_id stored twice (two profiles or metrics: Klaviyo keeps one per profile and metric), with who claims it
  const copies = new Map<string, typeof storedNow>();
  for (const e of storedNow) copies.set(e.unique_id, [...(copies.get(e.unique_id) ?? []), e]);
  const claims = (u: string) => [
    ...good.filter((w) => w.uniqueIds.includes(u)).map((w) => `good ${w.id}`),
    ...accepted.filter((w) => w.fate.uniqueIds.includes(u)).map((w) => w.label.slice(0, 120)),
  ];
  const twice = [...copies].filter(([, es]) => es.length > 1);
  const diagnosis = twice
    .slice(0, 3)
    .map(
      ([u, es]) =>
        `${JSON.stringify(u.slice(0, 100))} stored ${es.length} times (${es
          .map((e) => `${e.metric} for ${JSON.stringify(e.profile).slice(0, 120)}`)
          .join(' / ')}), claimed by: ${claims(u).join(' | ') || 'nobody'}`,
    );
  for (const name of ['ingest', 'transformer', 'sink'])
    if (!(await rig.ready(name))) broken.push(`${name} not ready after the fuzz (wedged)`);

  const byKind = new Map<string, number[]>();
  for (const w of bad) {
    const k = kinds.get(w)!;
    const c = byKind.get(k) ?? [0, 0, 0];
    c[w.status === 200 ? 0 : w.status === 400 ? 1 : 2]++;
    byKind.set(k, c);
  }
  const refused = bad.filter((w) => w.status === 400 || w.status === 413).length;
  return {
    webhooks,
    faultEndedAt: Date.now(),
    expectedRefused: refused,
    expectedDeadLetters: a.attributedLetters,
    broken,
    notes: [
      `seed ${seed}: ${fuzzed} fuzzed among ${good.length} good, posted in ${postMs} ms (${SENDERS} in flight); fuzzed answers 200/400/413 by kind: ${[...byKind].map(([k, c]) => `${k} ${c.join('/')}`).join(', ')}`,
      `over the body limit: ${oversized.length}, answered 413 on the first try: ${oversizedFirst}` +
        `${
          oversized.length > oversizedFirst
            ? ` (others first got ${oversized
                .filter((w) => w.answers[0] !== 413)
                .map((w) => w.noAnswer?.[0] ?? w.answers[0])
                .join(',')})`
            : ''
        }`,
      `transient (no answer or 503, re-sent): ${judged.transient} of ${judged.tries} fuzzed tries, ${goodJudged.transient} of ${goodJudged.tries} good ones; ` +
        `no answer on a try: ${whyNone.size === 0 ? 'none' : [...whyNone].map(([why, n]) => `${n} ${why}`).join(', ')}; ` +
        `readiness probes: ${posted.probes}, ${posted.notReady} not ready, ${posted.slow} unanswered, longest red ${posted.longestRedMs} ms; ` +
        `event-loop delay while posting: poster p99 ${posted.lagP99Ms} ms, max ${posted.lagMaxMs} ms; ` +
        `rig (Klaviyo emulator) p99 ${(lag.percentile(99) / 1e6).toFixed(0)} ms, max ${(lag.max / 1e6).toFixed(0)} ms`,
      `accepted fuzzed: ${accepted.length} = ${a.deadLettered} dead-lettered with a reason + ${a.delivered} still mapped and delivered + ${a.skipped} skipped (unmapped topic) + ${a.unaccounted.length} unaccounted; ${seen.length} dead letter(s), ${a.unattributed.length} of no fuzzed webhook`,
      ...diagnosis.map((d) => `doubled? ${d}`),
    ],
  };
}

/**
 * The first conversation id of a seed's fuzz bases: 1,000,000 and up (the rig's own ids stay
 * below), below 9,000,500 so a part id (id × 100 + n) stays within 32 bits.
 */
export function fuzzBaseId(seed: number): number {
  return 1_000_000 + ((Math.abs(Math.trunc(seed)) * 547) % 8_000_000);
}
