/** What the transformer makes of a stored webhook body (ChaosRig.predict: the same mapping, offline). */
export interface Fate {
  readonly kind: 'events' | 'skip' | 'pending' | 'dead_letter';
  /** unique_ids of its Klaviyo events (as Avro carries them: well-formed). */
  readonly uniqueIds: readonly string[];
}

/** An accepted (200) fuzzed webhook and its predicted fate. */
export interface AcceptedFuzz {
  /** For the report (kind and damaged path). */
  readonly label: string;
  readonly body: string;
  readonly fate: Fate;
}

/** A record of one of the run's dead-letter topics, with what its original carries. */
export interface SeenDeadLetter {
  /** Where it is: topic[partition]@offset. */
  readonly at: string;
  readonly topic: 'notifications' | 'notificationsRetry' | 'events' | 'profiles' | 'deletions';
  readonly reason: string;
  /** Notification letters (raw and retry topics): the stored notification. */
  readonly notificationId?: string;
  readonly body?: string;
  /** Record letters (klaviyo topics). */
  readonly uniqueId?: string;
  readonly sourceNotificationId?: string;
}

export interface FuzzAccounting {
  /** Per accepted webhook: the unique_ids Klaviyo must hold (its events not refused for good). */
  readonly expected: Map<AcceptedFuzz, string[]>;
  /** Per accepted webhook: the dead letters that are its own. */
  readonly letters: Map<AcceptedFuzz, SeenDeadLetter[]>;
  readonly deadLettered: number;
  readonly delivered: number;
  readonly skipped: number;
  /** Webhooks whose predicted dead letter (or skip-free end) is nowhere. */
  readonly unaccounted: string[];
  /** Dead letters of no accepted fuzzed webhook. */
  readonly unattributed: SeenDeadLetter[];
  /** unique_ids Klaviyo holds although a dead letter says their event (or its notification) was given up on. */
  readonly storedAndLettered: string[];
  /** Letters attributed to a webhook: what the run's dead-letter topics must hold. */
  readonly attributedLetters: number;
}

/** A string as Avro (UTF-8) carries it: each lone surrogate becomes U+FFFD. */
export const wellFormed = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');

/** The envelope's id of a body, as the pipeline carries it (null when the body has none). */
function notificationIdOf(body: string): string | null {
  try {
    const id = (JSON.parse(body) as { id?: unknown }).id;
    return typeof id === 'string' ? wellFormed(id) : null;
  } catch {
    return null;
  }
}

/**
 * Which dead letter is whose, and what each accepted fuzzed webhook must have left in Klaviyo.
 * Several fuzzed webhooks may carry one notification id (the fuzzer writes `"null"`, `" "`, … into
 * `id`), so a dead letter is never matched by id alone when it can be matched better: a
 * notification letter by the stored body (each fuzzed body is unique), an event letter by its
 * unique_id (then its source notification id), a profile or deletion letter by its source id.
 * Ids are compared well-formed (a lone surrogate in an id arrives as U+FFFD).
 */
export function accountFuzzed(
  accepted: readonly AcceptedFuzz[],
  seen: readonly SeenDeadLetter[],
  stored: ReadonlySet<string>,
): FuzzAccounting {
  const byBody = new Map<string, AcceptedFuzz>();
  const byId = new Map<string, AcceptedFuzz[]>();
  const byUid = new Map<string, AcceptedFuzz[]>();
  const idOf = new Map<AcceptedFuzz, string | null>();
  for (const w of accepted) {
    byBody.set(wellFormed(w.body), w);
    const id = notificationIdOf(w.body);
    idOf.set(w, id);
    if (id !== null) byId.set(id, [...(byId.get(id) ?? []), w]);
    for (const u of w.fate.uniqueIds) byUid.set(u, [...(byUid.get(u) ?? []), w]);
  }
  const letters = new Map<AcceptedFuzz, SeenDeadLetter[]>();
  const unattributed: SeenDeadLetter[] = [];
  const preferSource = (cands: readonly AcceptedFuzz[] | undefined, source: string | undefined) =>
    cands?.find((w) => source !== undefined && idOf.get(w) === wellFormed(source)) ?? cands?.[0];
  for (const l of seen) {
    let owner: AcceptedFuzz | undefined;
    if (l.topic === 'notifications' || l.topic === 'notificationsRetry') {
      owner = l.body !== undefined ? byBody.get(wellFormed(l.body)) : undefined;
      const sameId = l.notificationId !== undefined ? byId.get(wellFormed(l.notificationId)) : undefined;
      if (!owner && sameId?.length === 1) owner = sameId[0];
    } else if (l.topic === 'events' && l.uniqueId !== undefined) {
      owner = preferSource(byUid.get(wellFormed(l.uniqueId)), l.sourceNotificationId);
    } else if (l.sourceNotificationId !== undefined) {
      owner = byId.get(wellFormed(l.sourceNotificationId))?.[0];
    }
    if (owner) letters.set(owner, [...(letters.get(owner) ?? []), l]);
    else unattributed.push(l);
  }

  const expected = new Map<AcceptedFuzz, string[]>();
  const storedAndLettered: string[] = [];
  let deadLettered = 0;
  let delivered = 0;
  let skipped = 0;
  const unaccounted: string[] = [];
  for (const w of accepted) {
    const mine = letters.get(w) ?? [];
    const notificationLettered = mine.some((l) => l.topic === 'notifications' || l.topic === 'notificationsRetry');
    const refused = new Set(mine.filter((l) => l.topic === 'events').map((l) => wellFormed(l.uniqueId!)));
    const given = (u: string) => notificationLettered || refused.has(u);
    for (const u of w.fate.uniqueIds) if (given(u) && stored.has(u)) storedAndLettered.push(u);
    // what Klaviyo holds of it is expected (a copy given up on AND held is reported above, not as doubled)
    expected.set(
      w,
      w.fate.uniqueIds.filter((u) => !given(u) || stored.has(u)),
    );
    if (mine.length > 0) deadLettered++;
    else if (w.fate.kind === 'events') delivered++;
    else if (w.fate.kind === 'skip') skipped++;
    else unaccounted.push(`${w.label}: expected ${w.fate.kind}, not in a dead-letter topic`);
  }
  return {
    expected,
    letters,
    deadLettered,
    delivered,
    skipped,
    unaccounted,
    unattributed,
    storedAndLettered,
    attributedLetters: seen.length - unattributed.length,
  };
}

/** What the sender saw of one webhook: every answer in order (0: none), and why none (`timeout`, the socket's error). */
export interface SenderView {
  readonly label: string;
  readonly bytes: number;
  readonly answers: readonly number[];
  readonly noAnswer?: readonly string[];
}

/** What ingest may finally answer a signed webhook, whatever its body: stored, refused, too large. */
export const FINAL_ANSWERS: ReadonlySet<number> = new Set([200, 400, 413]);

/**
 * The fuzz scenario's promises about answers, told apart from the load of a shared machine:
 * - every webhook ends with 200, 400 or 413 (Intercom re-sends after a 503 or no answer, for up
 *   to the poster's give-up time): a body that never gets one wedged or broke something;
 * - no try is answered with a 5xx other than 503 (503: Kafka did not acknowledge in time, retry;
 *   a 500 is a handler that failed on the body);
 * - a body over `limitBytes` is answered 413 on every try that has an answer, and no try of it
 *   ends in a reset (ECONNRESET, EPIPE: issue #19, the sender must read its 413).
 * A try without an answer (timeout) or with a 503 is transient: counted, not a failure. A body
 * that stalls ingest by itself gets no answer on any try and breaks the first rule.
 */
export function judgeAnswers(
  hooks: readonly SenderView[],
  limitBytes: number,
): { broken: string[]; transient: number; tries: number } {
  const broken: string[] = [];
  const show = (w: SenderView) =>
    `${w.label} (${w.bytes} bytes): answered ${w.answers.join(',')}${w.noAnswer?.length ? ` (no answer: ${w.noAnswer.join(',')})` : ''}`;
  const unfinished = hooks.filter((w) => !FINAL_ANSWERS.has(w.answers[w.answers.length - 1] ?? 0));
  const failed = hooks.filter((w) => w.answers.some((a) => a >= 500 && a !== 503));
  const oversized = hooks.filter(
    (w) =>
      w.bytes > limitBytes &&
      (w.answers.some((a) => a !== 0 && a !== 413) || (w.noAnswer ?? []).some((why) => why !== 'timeout')),
  );
  for (const [list, what] of [
    [unfinished, 'without a final 200/400/413'],
    [failed, 'answered a 5xx other than 503'],
    [oversized, `over the ${limitBytes}-byte limit but not answered 413 on every answered try (or reset)`],
  ] as const) {
    for (const w of list.slice(0, 3)) broken.push(`${what}: ${show(w)}`);
    if (list.length > 0) broken.push(`${list.length} fuzzed webhook(s) ${what}`);
  }
  let transient = 0;
  let tries = 0;
  for (const w of hooks) {
    tries += w.answers.length;
    transient += w.answers.filter((a) => a === 0 || a === 503).length;
  }
  return { broken, transient, tries };
}
