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
  /** With several accounts: each one's arrived/expected and doubled. */
  readonly perAccount: readonly string[];
}

/** What the runner notes before a scenario: per account, the events stored so far and the unique_ids of earlier scenarios. */
export interface MeasureContext {
  readonly dlqBefore: number;
  readonly duplicatesBefore: number;
  /** unique_ids of every webhook posted so far, by account (earlier scenarios' late copies are not doubling). */
  readonly knownIds: Map<string, Set<string>>;
  readonly storedBefore: ReadonlyMap<string, number>;
}

/** The account a webhook's events belong in. */
export const accountOf = (w: { readonly account?: string }): string => w.account ?? 'default';

export function measureContext(rig: ChaosRig, dlqBefore: number, knownIds: Map<string, Set<string>>): MeasureContext {
  const accounts = rig.accounts();
  return {
    dlqBefore,
    duplicatesBefore: accounts.reduce((n, a) => n + a.store.duplicateEventsIgnored, 0),
    knownIds,
    storedBefore: new Map(accounts.map((a) => [a.id, a.store.events.length])),
  };
}

export async function measure(
  rig: ChaosRig,
  run: ScenarioRun,
  ctx: MeasureContext,
  timeoutMs = 120_000,
): Promise<Measurement> {
  const accepted = run.webhooks.filter((w) => w.status === 200);
  const refused = run.webhooks.filter((w) => w.status >= 400 && w.status < 500 && w.status !== 429).length;
  const accounts = rig.accounts();
  // per account: the unique_ids its accepted webhooks map to, counted in its own store only
  const expectedOf = new Map<string, Set<string>>(accounts.map((a) => [a.id, new Set<string>()]));
  for (const w of accepted) for (const id of w.uniqueIds) expectedOf.get(accountOf(w))?.add(id);
  for (const w of run.webhooks) {
    const known = ctx.knownIds.get(accountOf(w)) ?? new Set<string>();
    for (const id of w.uniqueIds) known.add(id);
    ctx.knownIds.set(accountOf(w), known);
  }
  const expectedSize = [...expectedOf.values()].reduce((n, e) => n + e.size, 0);
  const arrivedNow = () => {
    let n = 0;
    for (const a of accounts) {
      const seen = new Set(a.store.events.map((e) => e.unique_id));
      for (const id of expectedOf.get(a.id)!) if (seen.has(id)) n++;
    }
    return n;
  };
  const deadline = Date.now() + timeoutMs;
  let arrived = arrivedNow();
  while (arrived < expectedSize && Date.now() < deadline) {
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
  let doubled = 0;
  const doubledIds: string[] = [];
  const lostIds: string[] = [];
  const perAccount: string[] = [];
  for (const a of accounts) {
    const mine = accepted.filter((w) => accountOf(w) === a.id);
    const d = countDoubled(
      a.store.events.slice(ctx.storedBefore.get(a.id) ?? 0),
      mine,
      ctx.knownIds.get(a.id) ?? new Set<string>(),
    );
    doubled += d.doubled;
    doubledIds.push(...d.doubledIds);
    const stored = new Set(a.store.events.map((e) => e.unique_id));
    const expected = expectedOf.get(a.id)!;
    const lost = [...expected].filter((id) => !stored.has(id));
    lostIds.push(...lost);
    perAccount.push(`${a.id} ${expected.size - lost.length}/${expected.size} arrived, ${d.doubled} doubled`);
  }
  const problems = [...run.broken];
  const redelivered = accounts.reduce((n, a) => n + a.store.duplicateEventsIgnored, 0) - ctx.duplicatesBefore;
  const goodRefused = run.webhooks.filter((w) => w.uniqueIds.length > 0 && w.status !== 200).length;
  if (goodRefused > 0) problems.push(`${goodRefused} good webhook(s) never accepted`);
  if (refused !== run.expectedRefused) problems.push(`${refused} refused, expected ${run.expectedRefused}`);
  if (deadLettered !== run.expectedDeadLetters)
    problems.push(`${deadLettered} dead letter(s), expected ${run.expectedDeadLetters}`);
  const show = (ids: string[]) =>
    ids
      .slice(0, 3)
      .map((id) => JSON.stringify(id.slice(0, 120)))
      .join(', ');
  if (lostIds.length > 0) problems.push(`${lostIds.length} lost (${show(lostIds)})`);
  if (doubled > 0) {
    const first = doubledIds[0];
    const copies = accounts.flatMap((a) =>
      a.store.events.filter((e) => e.unique_id === first).map((e) => `${a.id}:${e.metric}:${e.profileId}`),
    );
    problems.push(`${doubled} doubled (${show(doubledIds)}; copies of the first: ${copies.join(', ')})`);
  }
  problems.push(...(run.check?.({ redelivered }) ?? []));
  return {
    accepted: accepted.length,
    sent: run.webhooks.length,
    refused,
    expected: expectedSize,
    arrived,
    lost: lostIds.length,
    doubled,
    redelivered,
    deadLettered,
    expectedDeadLetters: run.expectedDeadLetters,
    recoverMs,
    problems,
    perAccount: accounts.length > 1 ? perAccount : [],
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
