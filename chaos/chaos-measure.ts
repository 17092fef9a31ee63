import type { StoredEvent } from '../tools/klaviyo-emulator/src/klaviyo-emulator.store';
import type { ChaosRig } from './chaos-rig';
import type { ScenarioRun } from './chaos-scenarios';

/**
 * A scenario's numbers, counted at the Klaviyo emulator by unique_id:
 * - accepted: webhooks ingest answered 200 (after Intercom-style re-sends of 5xx / no answer);
 * - expected: unique_ids the accepted webhooks map to (the transformer's mapping, run offline);
 * - arrived: expected unique_ids stored in Klaviyo; lost = expected − arrived;
 * - doubled: events stored more than once for one source event: a second stored copy of one
 *   unique_id (the dedupe failed) or a stored event with a unique_id nobody expects (the same
 *   event re-sent under another id). A re-send Klaviyo ignored as a duplicate is NOT doubling:
 *   it is at-least-once working as designed, shown as `redelivered`;
 * - dead-lettered: records added to the run's `.dlq` topics during the scenario;
 * - recover: from the end of the fault until the last expected event arrived.
 */
export interface Measurement {
  readonly accepted: number;
  readonly sent: number;
  readonly refused: number;
  readonly expected: number;
  readonly arrived: number;
  readonly lost: number;
  readonly doubled: number;
  readonly redelivered: number;
  readonly deadLettered: number;
  readonly expectedDeadLetters: number;
  readonly recoverMs: number;
  readonly problems: readonly string[];
}

export async function measure(
  rig: ChaosRig,
  run: ScenarioRun,
  ctx: { dlqBefore: number; duplicatesBefore: number; knownIds: Set<string>; storedBefore: number },
  timeoutMs = 120_000,
): Promise<Measurement> {
  const accepted = run.webhooks.filter((w) => w.status === 200);
  const refused = run.webhooks.filter((w) => w.status >= 400 && w.status < 500 && w.status !== 429).length;
  const expected = new Set(accepted.flatMap((w) => w.uniqueIds));
  for (const w of run.webhooks) for (const id of w.uniqueIds) ctx.knownIds.add(id);
  const store = rig.klaviyo.store;
  const arrivedNow = () => {
    let n = 0;
    const seen = new Set(store.events.map((e) => e.unique_id));
    for (const id of expected) if (seen.has(id)) n++;
    return n;
  };
  const deadline = Date.now() + timeoutMs;
  let arrived = arrivedNow();
  while (arrived < expected.size && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    arrived = arrivedNow();
  }
  const recoverMs = Math.max(0, Date.now() - run.faultEndedAt);
  // late re-sends and dead letters still in flight show up in the counts below
  let deadLettered = (await rig.deadLettered()) - ctx.dlqBefore;
  for (let i = 0; i < 30 && deadLettered < run.expectedDeadLetters; i++) {
    await new Promise((r) => setTimeout(r, 500));
    deadLettered = (await rig.deadLettered()) - ctx.dlqBefore;
  }
  await new Promise((r) => setTimeout(r, 1000));
  const { doubled, doubledIds } = countDoubled(store.events.slice(ctx.storedBefore), accepted, ctx.knownIds);
  const problems = [...run.broken];
  const redelivered = store.duplicateEventsIgnored - ctx.duplicatesBefore;
  const goodRefused = run.webhooks.filter((w) => w.uniqueIds.length > 0 && w.status !== 200).length;
  if (goodRefused > 0) problems.push(`${goodRefused} good webhook(s) never accepted`);
  if (refused !== run.expectedRefused) problems.push(`${refused} refused, expected ${run.expectedRefused}`);
  if (deadLettered !== run.expectedDeadLetters)
    problems.push(`${deadLettered} dead letter(s), expected ${run.expectedDeadLetters}`);
  const stored = new Set(store.events.map((e) => e.unique_id));
  const show = (ids: string[]) =>
    ids
      .slice(0, 3)
      .map((id) => JSON.stringify(id.slice(0, 120)))
      .join(', ');
  if (arrived < expected.size)
    problems.push(`${expected.size - arrived} lost (${show([...expected].filter((id) => !stored.has(id)))})`);
  if (doubled > 0) problems.push(`${doubled} doubled (${show(doubledIds)})`);
  problems.push(...(run.check?.({ redelivered }) ?? []));
  return {
    accepted: accepted.length,
    sent: run.webhooks.length,
    refused,
    expected: expected.size,
    arrived,
    lost: expected.size - arrived,
    doubled,
    redelivered,
    deadLettered,
    expectedDeadLetters: run.expectedDeadLetters,
    recoverMs,
    problems,
  };
}

/**
 * Stored copies beyond what the accepted webhooks account for. Klaviyo keeps one event per
 * unique_id for each profile and metric: when several accepted webhooks map to one unique_id for
 * different profiles (two fuzzed ratings with the item id "\u0000", seed 30902), each profile's
 * copy is its own, not a doubling; one webhook's event stored twice, or a stored unique_id nobody
 * expects, is.
 */
export function countDoubled(
  events: ReadonlyArray<Pick<StoredEvent, 'unique_id' | 'metric' | 'profileId'>>,
  accepted: ReadonlyArray<{ readonly uniqueIds: readonly string[] }>,
  knownIds: ReadonlySet<string>,
): { doubled: number; doubledIds: string[] } {
  const counts = new Map<string, number>();
  const profiles = new Map<string, Set<string>>();
  for (const e of events) {
    counts.set(e.unique_id, (counts.get(e.unique_id) ?? 0) + 1);
    const who = profiles.get(e.unique_id) ?? new Set<string>();
    who.add(`${e.metric}\u0000${e.profileId}`);
    profiles.set(e.unique_id, who);
  }
  const claims = new Map<string, number>();
  for (const w of accepted) for (const id of new Set(w.uniqueIds)) claims.set(id, (claims.get(id) ?? 0) + 1);
  const allowed = (id: string) => Math.max(1, Math.min(claims.get(id) ?? 1, profiles.get(id)?.size ?? 1));
  let doubled = 0;
  const doubledIds: string[] = [];
  for (const [id, n] of counts) {
    const extra = n - allowed(id) + (knownIds.has(id) ? 0 : 1);
    if (extra > 0) doubledIds.push(id);
    doubled += extra;
  }
  return { doubled, doubledIds };
}
