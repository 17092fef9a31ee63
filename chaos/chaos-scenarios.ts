import { waitUntil } from '../tools/support/wait-for';
import { sleep, type ChaosRig, type Webhook } from './chaos-rig';
import { fuzzedWebhooks } from './fuzz.scenario';
import { accountSpell } from './account-scenarios';

/** What a scenario did, for the measurement after it. */
export interface ScenarioRun {
  /** Its webhooks (good and poison), as posted. */
  readonly webhooks: readonly Webhook[];
  /** When the last fault ended (process back, Klaviyo healthy again). */
  readonly faultEndedAt: number;
  /** Dead letters this scenario must cause. */
  readonly expectedDeadLetters: number;
  /** Webhooks that must be refused (4xx) by ingest. */
  readonly expectedRefused: number;
  /** Scenario-specific promises that failed (empty: kept). */
  readonly broken: string[];
  readonly notes: string[];
  /** Promises only the final counts can tell (problems; empty: kept). */
  readonly check?: (final: { redelivered: number }) => string[];
}

export interface Scenario {
  readonly name: string;
  /** Part of `--fast` (and of the CI e2e test). */
  readonly fast: boolean;
  /** The guarantee it proves (README "Delivery guarantees"). */
  readonly proves: string;
  /** Runs on a rig of its own with a private broker (it kills the broker). */
  readonly privateBroker?: boolean;
  /** Runs on the rig of three connections (three workspaces → three Klaviyo accounts at their limits). */
  readonly tenants?: boolean;
  run(rig: ChaosRig): Promise<ScenarioRun>;
}

const RATE = 40;
/** The pace of the bigger scenarios below (a few thousand webhooks each). */
const FAST_RATE = 100;

/** Answers a webhook may get while a dependency of ingest is away: stored, or "try again". */
const unexpectedAnswers = (hooks: readonly Webhook[]) =>
  hooks.flatMap((w) => w.answers.filter((a) => a !== 200 && a !== 503));

/** Samples an app's readiness every `everyMs` until stopped: whether it was ever red / green. */
function watchReadiness(rig: ChaosRig, name: string, everyMs = 250) {
  let red = 0;
  let green = 0;
  let on = true;
  const done = (async () => {
    while (on) {
      if (await rig.ready(name)) green++;
      else red++;
      await sleep(everyMs);
    }
  })();
  return {
    stop: async () => {
      on = false;
      await done;
      return { red, green };
    },
  };
}

/**
 * The broker SIGKILLed mid-stream and started again `outageMs` later (same data): ingest answers
 * 503 (never 200, never silence) while it is away and is not ready; nothing it accepted is lost.
 */
async function brokerKill(rig: ChaosRig, webhooks: Webhook[], outageMs: number): Promise<ScenarioRun> {
  const broker = rig.broker!;
  const sending = rig.post(webhooks, FAST_RATE);
  await sleep(4000);
  const killedAt = Date.now();
  await broker.kill();
  const readiness = watchReadiness(rig, 'ingest');
  await sleep(outageMs);
  const { red } = await readiness.stop();
  await broker.start();
  const faultEndedAt = Date.now();
  for (const name of ['ingest', 'transformer', 'sink']) await rig.waitReady(name);
  const readyMs = Date.now() - faultEndedAt;
  await sending;
  const refused = webhooks.filter((w) => w.answers.includes(503)).length;
  const broken: string[] = [];
  if (refused === 0) broken.push('no webhook was answered 503 during the outage');
  if (red === 0) broken.push('ingest stayed ready with the broker dead');
  const odd = unexpectedAnswers(webhooks);
  if (odd.length > 0) broken.push(`answers other than 200/503: ${[...new Set(odd)].join(',')} (${odd.length})`);
  return {
    webhooks,
    faultEndedAt,
    expectedDeadLetters: 0,
    expectedRefused: 0,
    broken,
    notes: [
      `broker down ${faultEndedAt - killedAt} ms: ${refused} webhook(s) answered 503 then re-sent; ingest not ready in ${red} probe(s); all apps ready ${readyMs} ms after the restart`,
    ],
  };
}

/**
 * The schema registry unreachable for `outageMs` (connections refused and reset), and transformer
 * and sink SIGKILLed during it (their restart finds no registry, no cached schemas): nothing is
 * dead-lettered for it, ingest says it is not ready, and everything flows once it is back.
 */
async function registryOutage(rig: ChaosRig, webhooks: Webhook[], outageMs: number): Promise<ScenarioRun> {
  const sending = rig.post(webhooks, FAST_RATE);
  await sleep(3000);
  const cutAt = Date.now();
  await rig.registry.cut();
  const readiness = watchReadiness(rig, 'ingest');
  await sleep(1000);
  for (const name of ['transformer', 'sink']) {
    await rig.signal(name, 'SIGKILL');
    await rig.restart(name, false);
  }
  await sleep(Math.max(0, outageMs - (Date.now() - cutAt)));
  const { red } = await readiness.stop();
  await rig.registry.restore();
  const faultEndedAt = Date.now();
  for (const name of ['ingest', 'transformer', 'sink']) await rig.waitReady(name);
  const readyMs = Date.now() - faultEndedAt;
  await sending;
  const broken: string[] = [];
  if (red === 0) broken.push('ingest stayed ready with the registry unreachable');
  const odd = unexpectedAnswers(webhooks);
  const why = [...new Set(webhooks.flatMap((w) => (w as { noAnswer?: string[] }).noAnswer ?? []))].join(',');
  if (odd.length > 0)
    broken.push(
      `answers other than 200/503: ${[...new Set(odd)].join(',')} (${odd.length})${why ? ` no answer: ${why}` : ''}`,
    );
  const refused = webhooks.filter((w) => w.answers.includes(503)).length;
  return {
    webhooks,
    faultEndedAt,
    expectedDeadLetters: 0,
    expectedRefused: 0,
    broken,
    notes: [
      `registry unreachable ${faultEndedAt - cutAt} ms, transformer and sink SIGKILLed and restarted in it; ${refused} webhook(s) answered 503; ingest not ready in ${red} probe(s); all ready ${readyMs} ms after`,
    ],
  };
}

async function killRepeatedly(rig: ChaosRig, name: string, times: number, webhooks: Webhook[]): Promise<ScenarioRun> {
  const sending = rig.post(webhooks, RATE);
  const notes: string[] = [];
  // killed while webhooks flow, restarted at once (as a supervisor would), killed again 2 s later
  for (let i = 0; i < times; i++) {
    await sleep(2000);
    await rig.signal(name, 'SIGKILL');
    await rig.restart(name, false);
  }
  const faultEndedAt = Date.now();
  await rig.waitReady(name);
  notes.push(
    `${times} SIGKILLs 2 s apart; the last restart ready after ${Date.now() - faultEndedAt} ms (the killed member's session times out first)`,
  );
  await sending;
  return { webhooks, faultEndedAt, expectedDeadLetters: 0, expectedRefused: 0, broken: [], notes };
}

/** A Klaviyo fault for `ms` while webhooks flow; the sink must neither exit nor lose anything. */
async function klaviyoSpell(
  rig: ChaosRig,
  apply: () => void,
  ms: number,
  webhooks: Webhook[],
  checkReadiness: boolean,
): Promise<ScenarioRun> {
  const sink = rig.app('sink');
  const exitsBefore = sink.exits;
  const broken: string[] = [];
  const notes: string[] = [];
  apply();
  const started = Date.now();
  const sending = rig.post(webhooks, RATE);
  let sawRed = false;
  while (Date.now() - started < ms) {
    if (checkReadiness && !(await rig.ready('sink'))) sawRed = true;
    await sleep(500);
  }
  const faultEndedAt = Date.now();
  await sending;
  if (checkReadiness) {
    if (!sawRed) broken.push('sink readiness never turned red during the spell');
    const green = await waitGreen(rig, 'sink', 30_000);
    if (green < 0) broken.push('sink readiness did not turn green again');
    else notes.push(`ready again ${green} ms after the spell`);
  }
  if (sink.exits !== exitsBefore) broken.push('the sink process exited during the spell');
  return { webhooks, faultEndedAt, expectedDeadLetters: 0, expectedRefused: 0, broken, notes };
}

async function waitGreen(rig: ChaosRig, name: string, timeoutMs: number): Promise<number> {
  const t = Date.now();
  while (Date.now() - t < timeoutMs) {
    if (await rig.ready(name)) return Date.now() - t;
    await sleep(200);
  }
  return -1;
}

/**
 * A good conversation.user.created webhook whose conversation carries custom_attributes nested
 * 6,000 objects deep (valid JSON, ~38 KB, that JSON.stringify cannot walk back): a poison record.
 */
function deepNotification(good: string, tag: string): string {
  const n = JSON.parse(good);
  n.id = `notif_chaos_deep_${tag}`;
  n.data.item.id = `9${String(n.data.item.id)}`;
  n.data.item.custom_attributes = '__DEEP__';
  return JSON.stringify(n).replace('"__DEEP__"', `${'{"a":'.repeat(6000)}1${'}'.repeat(6000)}`);
}

/**
 * Klaviyo slow (every bulk request answered after `slowMs`), and the sink SIGKILLed `kills` times
 * right after Klaviyo stored a bulk request, before the sink can commit it: the restarted sink
 * sends those events again, Klaviyo keeps the first of each unique_id, nothing is stored twice.
 */
async function killAfter2xx(rig: ChaosRig, webhooks: Webhook[], kills: number, slowMs: number): Promise<ScenarioRun> {
  const store = rig.klaviyo.store;
  rig.klaviyo.faults.delay(1_000_000, slowMs, 'bulk_create_events');
  const notes: string[] = [];
  const broken: string[] = [];
  // one chunk of webhooks per kill (so that each kill finds events in flight), the last after it
  const chunk = Math.ceil(webhooks.length / (kills + 1));
  let landed = 0;
  for (let i = 0; i < kills; i++) {
    const stored = store.eventsStored;
    const sending = rig.post(webhooks.slice(i * chunk, (i + 1) * chunk), FAST_RATE);
    if (!(await waitUntil(() => store.eventsStored > stored, { timeoutMs: 60_000, intervalMs: 1 }))) {
      broken.push(`kill ${i + 1}: no bulk request stored within 60 s`);
      break;
    }
    await rig.signal('sink', 'SIGKILL');
    landed++;
    await rig.restart('sink', false);
    await sending;
  }
  const faultEndedAt = Date.now();
  await rig.post(webhooks.slice(kills * chunk), FAST_RATE);
  await rig.waitReady('sink');
  rig.klaviyo.faults.clear();
  notes.push(
    `Klaviyo answering bulk requests after ${slowMs} ms; the sink SIGKILLed ${landed} times within ms of Klaviyo storing a bulk request`,
  );
  return {
    webhooks,
    faultEndedAt,
    expectedDeadLetters: 0,
    expectedRefused: 0,
    broken,
    notes,
    // the events of a stored request whose commit the kill prevented are sent again
    check: ({ redelivered }) =>
      redelivered === 0 ? ["no re-send after the kills: none landed between Klaviyo's 2xx and the commit"] : [],
  };
}

/**
 * Klaviyo stalls and loses answers on bulk requests: `n` stored but never answered, `n` neither
 * stored nor answered (the sink's request timeout must fire), `n` stored and the connection closed,
 * `n` stored and the connection reset. The sink times out, retries, and every event is stored once.
 */
async function stalledAnswers(rig: ChaosRig, webhooks: Webhook[], n: number): Promise<ScenarioRun> {
  const faults = rig.klaviyo.faults;
  const endpoint = 'bulk_create_events' as const;
  faults.timeout(n, 60_000, { processed: true, endpoint });
  faults.timeout(n, 60_000, { processed: false, endpoint });
  faults.timeout(n, 0, { processed: true, endpoint });
  faults.timeout(n, 0, { processed: true, reset: true, endpoint });
  const sink = rig.app('sink');
  const exitsBefore = sink.exits;
  const sending = rig.post(webhooks, FAST_RATE);
  const broken: string[] = [];
  if (
    !(await waitUntil(() => (faults.describe().queued as unknown[]).length === 0, {
      timeoutMs: 60_000,
      intervalMs: 100,
    }))
  ) {
    broken.push(`faults left unused: ${JSON.stringify(faults.describe().queued)}`);
  }
  const faultEndedAt = Date.now();
  await sending;
  if (sink.exits !== exitsBefore) broken.push('the sink process exited');
  const lost = rig.klaviyo.store.requestLog().filter((r) => r.endpoint === endpoint && r.status === 0).length;
  return {
    webhooks,
    faultEndedAt,
    expectedDeadLetters: 0,
    expectedRefused: 0,
    broken,
    notes: [
      `${4 * n} bulk requests without an answer (${2 * n} stalled 60 s, ${n} closed, ${n} reset; ${3 * n} of them stored); the emulator logged ${lost} unanswered`,
    ],
    check: ({ redelivered }) =>
      redelivered === 0 ? ['no re-send of the events Klaviyo stored without answering'] : [],
  };
}

/**
 * A full run, then `cli replay --from-beginning` of the raw topic (re-map) and of the events topic
 * (re-deliver): Klaviyo ends with the same events, each once; every event was sent again.
 */
async function replayFromBeginning(rig: ChaosRig, webhooks: Webhook[]): Promise<ScenarioRun> {
  await rig.post(webhooks, FAST_RATE);
  const store = rig.klaviyo.store;
  const ids = new Set(webhooks.filter((w) => w.status === 200).flatMap((w) => w.uniqueIds));
  await waitUntil(
    () => {
      const have = new Set(store.events.map((e) => e.unique_id));
      return [...ids].every((id) => have.has(id));
    },
    { timeoutMs: 120_000, intervalMs: 200 },
  );
  await rig.quiet();
  const before = {
    ids: store.events.map((e) => e.unique_id).sort(),
    ignored: store.duplicateEventsIgnored,
    rawDeadLetters: await rig.deadLettered(['notifications']),
  };
  const notes: string[] = [];
  const broken: string[] = [];
  for (const topic of ['intercom.notifications.v1', 'klaviyo.events.v1']) {
    const t = Date.now();
    const { code, out } = await rig.cli(['replay', '--topic', topic, '--from-beginning', '--yes']);
    const summary = out.split('\n').find((l) => l.startsWith('replay done')) ?? out.split('\n').slice(-3).join(' | ');
    notes.push(`replay ${topic}: exit ${code} in ${Date.now() - t} ms: ${summary}`);
    if (code !== 0) broken.push(`replay ${topic} exited ${code}`);
  }
  await rig.quiet();
  const faultEndedAt = Date.now();
  const after = store.events.map((e) => e.unique_id).sort();
  if (after.join() !== before.ids.join())
    broken.push(`Klaviyo holds ${after.length} events after the replays, ${before.ids.length} before (or other ids)`);
  const resent = store.duplicateEventsIgnored - before.ignored;
  notes.push(`${before.ids.length} events in Klaviyo before and after; ${resent} re-sent and ignored as duplicates`);
  // the raw topic's poison (earlier scenarios) is dead-lettered again by the re-mapping
  return {
    webhooks,
    faultEndedAt,
    expectedDeadLetters: before.rawDeadLetters,
    expectedRefused: 0,
    broken,
    notes,
    check: () => (resent < before.ids.length ? [`only ${resent} of ${before.ids.length} events were sent again`] : []),
  };
}

/** A scenario's fault length, shortened for development with the variable (milliseconds). */
function envMs(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'transformer SIGKILL x3',
    fast: true,
    proves: 'a crashed transformer loses nothing',
    run: (rig) => killRepeatedly(rig, 'transformer', 3, rig.conversations(60)),
  },
  {
    name: 'sink SIGKILL x3',
    fast: true,
    proves: 'a crashed sink loses nothing, duplicates are deduped',
    run: (rig) => killRepeatedly(rig, 'sink', 3, rig.conversations(60)),
  },
  {
    name: 'Klaviyo 429 storm 8 s',
    fast: true,
    proves: 'rate limiting delays, never drops',
    run: (rig) => klaviyoSpell(rig, () => rig.klaviyo.faults.storm429(8000), 8000, rig.conversations(40), false),
  },
  {
    name: 'Klaviyo 5xx spell 8 s',
    fast: true,
    proves: 'a Klaviyo outage delays, never drops',
    run: (rig) => klaviyoSpell(rig, () => rig.klaviyo.faults.outage500(8000), 8000, rig.conversations(40), false),
  },
  {
    name: 'Klaviyo 401 spell 15 s',
    fast: true,
    proves: 'a refused key is systemic: readiness red, nothing dead-lettered, resumes',
    run: (rig) => klaviyoSpell(rig, () => rig.klaviyo.faults.refuseKey(15_000), 15_000, rig.conversations(30), true),
  },
  {
    name: 'poison among good',
    fast: true,
    proves: 'a poison record goes to a DLQ with its reason, the ones after it flow',
    async run(rig) {
      const good = rig.conversations(30);
      const deep = rig.rawWebhook(deepNotification(good[0].body, rig.prefix.slice(5, 13)), 'deep');
      const huge = JSON.parse(good[0].body);
      huge.id = `notif_chaos_range_${rig.prefix.slice(5, 13)}`;
      huge.created_at = 1e300; // not an Avro long
      const range = rig.rawWebhook(JSON.stringify(huge), 'range');
      const hooks = [...good.slice(0, 40), deep, range, ...good.slice(40)];
      const sending = rig.post(hooks, RATE);
      await sleep(500);
      await rig.produceRaw([Buffer.from('not avro at all'), Buffer.from([0, 0, 0, 0, 1, 0xff, 0xfe])]);
      await sending;
      const notes = [`deep nesting: HTTP ${deep.status}`, `created_at 1e300: HTTP ${range.status}`];
      const broken: string[] = [];
      if (range.status !== 400) broken.push(`out-of-range number answered ${range.status}, not 400`);
      return {
        webhooks: hooks,
        faultEndedAt: Date.now(),
        expectedRefused: 1,
        broken,
        notes,
        // the deep one, when accepted, is the transformer's dead letter; the two non-Avro records too
        expectedDeadLetters: 2 + (deep.status === 200 ? 1 : 0),
      };
    },
  },
  {
    name: 'ingest SIGTERM under load',
    fast: false,
    proves: 'ingest answers 200 only for what Kafka stored; a stop drains',
    async run(rig) {
      const webhooks = rig.conversations(60);
      const sending = rig.post(webhooks, RATE);
      await sleep(2000);
      const exitMs = await rig.signal('ingest', 'SIGTERM');
      await rig.restart('ingest');
      const faultEndedAt = Date.now();
      await sending;
      return {
        webhooks,
        faultEndedAt,
        expectedDeadLetters: 0,
        expectedRefused: 0,
        broken: [],
        notes: [`ingest exited ${exitMs} ms after SIGTERM`],
      };
    },
  },
  {
    name: 'broker SIGKILL + restart',
    fast: false,
    privateBroker: true,
    proves: 'ingest answers 503 while Kafka is away; nothing accepted is lost',
    run: (rig) => brokerKill(rig, rig.conversations(400), 8000),
  },
  {
    name: 'registry down 12 s and back',
    fast: true,
    proves: 'a registry outage delays, never dead-letters or loses',
    run: (rig) => registryOutage(rig, rig.conversations(400), 12_000),
  },
  {
    name: 'sink SIGKILL after 2xx x4',
    fast: false,
    proves: "a sink killed between Klaviyo's 2xx and its commit doubles nothing",
    run: (rig) => killAfter2xx(rig, rig.conversations(400), 4, 800),
  },
  {
    name: 'Klaviyo stalled/lost answers',
    fast: true,
    proves: 'a stalled or lost answer is timed out and retried, stored once',
    run: (rig) => stalledAnswers(rig, rig.conversations(150), 2),
  },
  {
    name: 'second sink joins and leaves',
    fast: false,
    proves: 'rebalances lose nothing; SIGTERM leaves the group',
    async run(rig) {
      const webhooks = rig.conversations(80);
      const sending = rig.post(webhooks, RATE);
      await sleep(1500);
      await rig.spawn('sink', 'sink-2');
      await sleep(2000);
      const exitMs = await rig.signal('sink-2', 'SIGTERM');
      const faultEndedAt = Date.now();
      await sending;
      const broken = exitMs > 15_000 ? [`sink-2 took ${exitMs} ms to exit after SIGTERM`] : [];
      return {
        webhooks,
        faultEndedAt,
        expectedDeadLetters: 0,
        expectedRefused: 0,
        broken,
        notes: [`sink-2 exited ${exitMs} ms after SIGTERM`],
      };
    },
  },
  {
    name: 'replay from the beginning',
    fast: false,
    proves: 'a replay of the raw or the events topic adds nothing to Klaviyo',
    run: (rig) => replayFromBeginning(rig, rig.conversations(250)),
  },
  {
    name: 'account 401 for 60 s',
    fast: false,
    tenants: true,
    proves:
      "one account's refused key parks only its records: the two others deliver at ≥ 90 % of their ceiling; it resumes",
    run: (rig) => accountSpell(rig, 'refuseKey', envMs('CHAOS_ACCOUNT_401_MS', 60_000)),
  },
  {
    name: 'account 429 storm 60 s',
    fast: false,
    tenants: true,
    proves: "one account's 429 storm pauses only its budget: the two others deliver at ≥ 90 % of their ceiling, no 429",
    run: (rig) => accountSpell(rig, 'storm429', envMs('CHAOS_ACCOUNT_429_MS', 60_000)),
  },
  {
    name: 'account 5xx for 2 min',
    fast: false,
    tenants: true,
    proves:
      "one account's outage opens only its circuit: the two others deliver at ≥ 90 % of their ceiling; it resumes",
    run: (rig) => accountSpell(rig, 'outage503', envMs('CHAOS_ACCOUNT_5XX_MS', 120_000)),
  },
  {
    name: 'fuzzed webhooks 2,000',
    fast: false,
    proves: 'no body gets a 5xx or wedges a stage; every accepted bad one is dead-lettered with its reason',
    run: (rig) => fuzzedWebhooks(rig, 150, 2000),
  },
];
