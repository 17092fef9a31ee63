import {
  connectionOf,
  DEFAULT_CONNECTION_ID,
  type DeadLetter,
  type DeliveryOutcome,
  type DeliveryOutcomeKind,
} from '@iks/domain';
import { reasonKey } from '@iks/kafka';
import { MinuteRing } from './minute-ring';

const MINUTE = 60_000;
/** 7 days and an hour of minute slots. */
const RING_MINUTES = 7 * 24 * 60 + 60;

export interface ReadModelLimits {
  /** Latest events kept per metric (with their properties). */
  readonly latestPerMetric: number;
  /** Entries kept per person (email, phone or contact id). */
  readonly perPerson: number;
  /** People indexed; the oldest are forgotten first. */
  readonly people: number;
  /** Outcomes kept in the person index in all; the oldest are forgotten first. */
  readonly personEntries: number;
  /** Dead letters kept with their bytes (counts by reason cover all). */
  readonly deadLetters: number;
  /** Delivered unique_ids remembered to count each event once (past it, repeats count again). */
  readonly uniqueIds: number;
  /** Deleted people remembered (their contact id and the deletion's state); the oldest are forgotten first. */
  readonly deletedPeople: number;
}

export const DEFAULT_LIMITS: ReadModelLimits = {
  latestPerMetric: 50,
  perPerson: 200,
  people: 500_000,
  personEntries: 1_000_000,
  deadLetters: 10_000,
  uniqueIds: 5_000_000,
  deletedPeople: 500_000,
};

/** Who an outcome is about; one object shared by the consecutive outcomes of one person. */
export interface PersonIds {
  readonly contactId: string | null;
  readonly email: string | null;
  readonly phone: string | null;
}

/**
 * What a delivered event was to Klaviyo, worked out from the outcomes (the sink publishes one per
 * record it consumed, a slice's outcomes together with one `outcome_at`):
 * - `new`: the first copy of its metric and unique_id Klaviyo got: it stored it;
 * - `repeat`: a copy sent again (Intercom redelivered, a replay, a slice read again) that Klaviyo
 *   already had: "only the first processed event will be recorded", it ignored it;
 * - `same_request`: the same event as an earlier record of the same slice: the sink's batcher put
 *   one entry for both in one Bulk Create Events request (event-batcher.ts), so no copy of its own
 *   was sent. (A copy of the same unique_id with other content is deferred to a later request by
 *   the batcher: that one is a `repeat`.)
 */
export type CopyKind = 'new' | 'repeat' | 'same_request';

/**
 * One outcome as the pages show it, compact (a million of them are held): times as numbers,
 * repeated strings interned, the person's ids shared, properties only where kept (a metric's
 * latest events, a person's newest profile).
 */
export class OutcomeView {
  constructor(
    readonly kind: DeliveryOutcomeKind,
    public reason: string,
    readonly recordKind: DeliveryOutcome['record_kind'],
    readonly metric: string | null,
    readonly uniqueId: string | null,
    /** Replaced by the contact id alone when the person is deleted. */
    public ids: PersonIds,
    /** unix ms: when it happened in Intercom (events). */
    readonly eventTime: number | null,
    /** unix ms: when ingest accepted the webhook (or backfill/reconcile wrote the notification). */
    readonly receivedAt: number | null,
    readonly mappedAt: number | null,
    readonly outcomeAt: number,
    private readonly topic: string,
    private readonly partition: number,
    private readonly offset: number,
    public properties: string | null,
    /** Delivered events only: what the copy was to Klaviyo. */
    readonly copy: CopyKind | null = null,
    /** The connection the record belongs to (docs/CONNECTIONS.md; "default" for the environment's). */
    readonly connectionId: string = DEFAULT_CONNECTION_ID,
  ) {}

  get contactId(): string | null {
    return this.ids.contactId;
  }

  get email(): string | null {
    return this.ids.email;
  }

  get phone(): string | null {
    return this.ids.phone;
  }

  /** `<topic>:<partition>:<offset>` of the record the sink consumed. */
  get at(): string {
    return `${this.topic}:${this.partition}:${this.offset}`;
  }

  withProperties(properties: string | null): OutcomeView {
    return new OutcomeView(
      this.kind,
      this.reason,
      this.recordKind,
      this.metric,
      this.uniqueId,
      this.ids,
      this.eventTime,
      this.receivedAt,
      this.mappedAt,
      this.outcomeAt,
      this.topic,
      this.partition,
      this.offset,
      properties,
      this.copy,
      this.connectionId,
    );
  }
}

export interface MetricStats {
  readonly name: string;
  /** Distinct events Klaviyo stored: the `new` copies (each metric and unique_id once). */
  delivered: number;
  /** Copies sent again that Klaviyo already had and ignored (`repeat`). */
  repeats: number;
  /** Records that rode along as the same entry of one request (`same_request`): no copy of their own was sent. */
  sameRequest: number;
  deadLettered: number;
  skipped: number;
  retried: number;
  lastEventTime: string | null;
  /** Delivered (new) per minute, the last 7 days. */
  readonly perMinute: MinuteRing;
  /** Newest last, at most `latestPerMetric`. */
  readonly latest: OutcomeView[];
  /** Delivered unique_ids → a tag of the slice and content of their newest copy (to tell a repeat from a ride-along). */
  readonly seen: Map<string, number>;
}

export interface LetterView {
  /** `<dlq topic>:<partition>:<offset>` */
  readonly at: string;
  letter: DeadLetter | null;
  readonly decodeError: string | null;
  /** `<stage> · <error class> [code]: <message>` as written (one line). */
  readonly reason: string;
  /** The grouping key of the reason (digits and ids masked), for "by reason". */
  readonly reasonKey: string;
  /** The original value decoded (Avro → JSON), when it could be. */
  decoded: string | null;
  reprocessedAt: number | null;
  /** The person it was about was deleted: its value, headers and decoded form are no longer held. */
  erased: boolean;
}

/** Dead letters of one grouping key: how many, and one of their reasons as written. */
export interface ReasonGroup {
  count: number;
  readonly example: string;
}

/** Outcomes of one record kind (event, profile, deletion, or undecodable), by kind. */
export interface KindTally {
  delivered: number;
  /** Events: of the delivered, copies Klaviyo already had (repeat) and ride-alongs (same request). */
  repeats: number;
  sameRequest: number;
  skipped: number;
  deadLettered: number;
  retried: number;
  pending: number;
}

export type RecordKindKey = 'event' | 'profile' | 'deletion' | 'undecodable';

/** A deleted person: only the contact id, times and the deletion's state are kept. */
export interface DeletedPerson {
  readonly contactId: string;
  /** unix ms: when the deletion was requested (Intercom's contact.deleted). */
  readonly requestedAt: number | null;
  /** The newest outcome of the deletion request: delivered (Klaviyo accepted the deletion job), dead_lettered, … */
  readonly state: DeliveryOutcomeKind;
  readonly outcomeAt: number;
}

const emptyTally = (): KindTally => ({
  delivered: 0,
  repeats: 0,
  sameRequest: 0,
  skipped: 0,
  deadLettered: 0,
  retried: 0,
  pending: 0,
});

/** 30-bit FNV-1a of a string (a tag, not a security hash). */
function fnv(s: string, h = 0x811c9dc5): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 2;
}

/**
 * The console's read model, built only from topics (klaviyo.outcomes.v1 and the dead-letter
 * topics), in memory and bounded: per-metric aggregates (fixed minute rings) and the latest
 * events, a person index (at most `personEntries` outcomes, oldest forgotten first), and the
 * dead letters. Rebuilt on start by reading the topics from the beginning.
 *
 * A deletion outcome (Intercom's contact.deleted, on its way to Klaviyo) makes it drop what it
 * holds of the person: email, phone, profile attributes, event properties, the bytes of her
 * dead letters; it keeps her contact id, the times and the deletion's state.
 */
export class DeliveryReadModel {
  readonly metrics = new Map<string, MetricStats>();
  private readonly people = new Map<string, OutcomeView[]>();
  /** The person index's outcomes in arrival order (a ring): the oldest is dropped first. */
  private readonly ring: Array<OutcomeView | undefined>;
  private ringNext = 0;
  readonly letters = new Map<string, LetterView>();
  /** Every dead letter read, by grouping key (covers the ones no longer held). */
  readonly lettersByReason = new Map<string, ReasonGroup>();
  /** Every dead letter read, by the stage that wrote it. */
  readonly lettersByStage = new Map<string, number>();
  readonly kinds = new Map<DeliveryOutcomeKind, number>();
  /** Outcomes by record kind and outcome kind (the Pipeline summary). */
  readonly byRecordKind = new Map<RecordKindKey, KindTally>();
  /** Every outcome per minute (throughput chart), the last 7 days. */
  readonly outcomesPerMinute = new MinuteRing(RING_MINUTES);
  /** `retried` outcomes per minute: slices that failed as a whole and are read again. */
  readonly retriedPerMinute = new MinuteRing(RING_MINUTES);
  readonly deleted = new Map<string, DeletedPerson>();
  /** Contact ids whose personal fields no longer open (their keys destroyed: docs/ERASURE.md); bounded like `deleted`. */
  private readonly erasedContacts = new Set<string>();
  outcomes = 0;
  deadLetterCount = 0;
  private seenIds = 0;
  private readonly interned = new Map<string, string>();

  constructor(private readonly limits: ReadModelLimits = DEFAULT_LIMITS) {
    this.ring = new Array(limits.personEntries);
  }

  apply(o: DeliveryOutcome): void {
    this.outcomes++;
    this.kinds.set(o.kind, (this.kinds.get(o.kind) ?? 0) + 1);
    const minute = Math.floor(o.outcome_at / MINUTE);
    this.outcomesPerMinute.add(minute);
    if (o.kind === 'retried') this.retriedPerMinute.add(minute);
    const eventMs = o.event_time === null ? NaN : Date.parse(o.event_time);
    const gone = o.intercom_contact_id !== null && this.deleted.has(o.intercom_contact_id);
    const isDeletion = o.record_kind === 'deletion';
    // a deleted person's (and a deletion's own) email, phone and properties are never kept
    const ids = gone || isDeletion ? this.contactOnly(o.intercom_contact_id) : this.idsOf(o);
    const properties = gone || isDeletion ? null : o.properties_json;
    let copy: CopyKind | null = null;
    const m = o.metric === null ? null : this.metric(this.intern(o.metric));
    if (m && o.kind === 'delivered') copy = this.copyOf(m, o);
    const view = new OutcomeView(
      o.kind,
      this.intern(o.reason),
      o.record_kind,
      m?.name ?? null,
      o.unique_id,
      ids,
      Number.isFinite(eventMs) ? eventMs : null,
      o.received_at,
      o.record_timestamp,
      o.outcome_at,
      this.intern(o.topic),
      o.partition,
      Number(o.offset),
      o.record_kind === 'profile' ? properties : null,
      copy,
      this.intern(connectionOf(o)),
    );
    this.tally(o, copy);
    if (m) {
      if (copy === 'new') {
        m.delivered++;
        m.perMinute.add(minute);
        if (m.lastEventTime === null || (o.event_time !== null && o.event_time > m.lastEventTime))
          m.lastEventTime = o.event_time;
      } else if (copy === 'repeat') m.repeats++;
      else if (copy === 'same_request') m.sameRequest++;
      else if (o.kind === 'dead_lettered') m.deadLettered++;
      else if (o.kind === 'skipped') m.skipped++;
      else if (o.kind === 'retried') m.retried++;
      m.latest.push(view.withProperties(properties));
      if (m.latest.length > this.limits.latestPerMetric) m.latest.shift();
    }
    this.index(view);
    if (isDeletion && o.intercom_contact_id !== null && o.kind !== 'retried') this.forgetPerson(o);
  }

  applyDeadLetter(
    at: string,
    letter: DeadLetter | null,
    decoded: string | null,
    decodeError: string | null = null,
  ): void {
    this.deadLetterCount++;
    const stage = letter?.stage ?? 'unknown';
    this.lettersByStage.set(stage, (this.lettersByStage.get(stage) ?? 0) + 1);
    const key = letter ? `${letter.stage} · ${reasonKey(letter)}` : 'undecodable dead letter';
    const reason = letter
      ? `${letter.stage} · ${letter.error_class}${letter.error_code ? ` [${letter.error_code}]` : ''}: ${oneLine(letter.error_message)}`
      : `undecodable dead letter: ${decodeError ?? ''}`;
    const group = this.lettersByReason.get(key);
    if (group) group.count++;
    else this.lettersByReason.set(key, { count: 1, example: reason });
    const view: LetterView = {
      at,
      letter,
      decodeError,
      reason,
      reasonKey: key,
      decoded,
      reprocessedAt: null,
      erased: false,
    };
    const contact = letter?.key ? letter.key.toString('utf8') : null;
    if (contact !== null && this.deleted.has(contact)) erase(view);
    this.letters.set(at, view);
    if (this.letters.size > this.limits.deadLetters) this.letters.delete(this.letters.keys().next().value!);
  }

  /** Outcomes of one record kind (`undecodable`: the sink could not decode the record). */
  recordKind(k: RecordKindKey): KindTally {
    return this.byRecordKind.get(k) ?? emptyTally();
  }

  private tally(o: DeliveryOutcome, copy: CopyKind | null): void {
    const k: RecordKindKey = o.record_kind ?? 'undecodable';
    let t = this.byRecordKind.get(k);
    if (!t) {
      t = emptyTally();
      this.byRecordKind.set(k, t);
    }
    if (o.kind === 'delivered') {
      t.delivered++;
      if (copy === 'repeat') t.repeats++;
      else if (copy === 'same_request') t.sameRequest++;
    } else if (o.kind === 'skipped') t.skipped++;
    else if (o.kind === 'dead_lettered') t.deadLettered++;
    else if (o.kind === 'retried') t.retried++;
    else t.pending++;
  }

  /**
   * new / repeat / same_request (see CopyKind). The tag of a unique_id's newest copy is its slice
   * (topic, partition, outcome_at: one publish per slice, or for an event the time its request was
   * answered, which copies merged from two slices share) and its content (what the batcher
   * compares): an equal tag is the same entry of the same request.
   */
  private copyOf(m: MetricStats, o: DeliveryOutcome): CopyKind {
    const tag = fnv(
      o.properties_json ?? '',
      fnv(
        `${o.topic}\u0001${o.partition}\u0001${o.outcome_at}\u0001${o.event_time}\u0001${o.email}\u0001${o.phone_number}\u0001`,
      ),
    );
    if (o.unique_id === null) return 'new';
    const before = m.seen.get(o.unique_id);
    if (before !== undefined) {
      m.seen.set(o.unique_id, tag);
      return before === tag ? 'same_request' : 'repeat';
    }
    if (this.seenIds >= this.limits.uniqueIds) {
      for (const s of this.metrics.values()) s.seen.clear();
      this.seenIds = 0;
    }
    m.seen.set(o.unique_id, tag);
    this.seenIds++;
    return 'new';
  }

  metric(name: string): MetricStats {
    let m = this.metrics.get(name);
    if (!m) {
      m = {
        name,
        delivered: 0,
        repeats: 0,
        sameRequest: 0,
        deadLettered: 0,
        skipped: 0,
        retried: 0,
        lastEventTime: null,
        perMinute: new MinuteRing(RING_MINUTES),
        latest: [],
        seen: new Map(),
      };
      this.metrics.set(name, m);
    }
    return m;
  }

  /** Delivered (new) in the last `minutes` (by outcome time). */
  deliveredSince(m: MetricStats, now: number, minutes: number): number {
    const last = Math.floor(now / MINUTE);
    return m.perMinute.sum(last - minutes + 1, last);
  }

  /** Counts per `bucketMinutes` over the last `buckets` buckets, oldest first. */
  series(perMinute: MinuteRing, now: number, buckets: number, bucketMinutes: number): number[] {
    return perMinute.series(Math.floor(now / MINUTE), buckets, bucketMinutes);
  }

  /** A person's outcomes by email, E.164 phone or Intercom contact id (oldest first). */
  person(query: string): OutcomeView[] {
    const q = query.trim();
    if (q === '') return [];
    const keys = q.includes('@') ? [`e:${q.toLowerCase()}`] : [`c:${q}`, `p:${q}`, `p:+${q.replace(/^\+/, '')}`];
    const seen = new Set<OutcomeView>();
    for (const k of keys) for (const v of this.people.get(k) ?? []) seen.add(v);
    return [...seen].sort((a, b) => a.outcomeAt - b.outcomeAt);
  }

  /** The deletion of the person a query names (by Intercom contact id: nothing else of her is kept). */
  /** An outcome of this contact arrived sealed under a destroyed key: her personal data is erased. */
  markErased(contactId: string): void {
    if (this.erasedContacts.has(contactId)) return;
    this.erasedContacts.add(contactId);
    if (this.erasedContacts.size > this.limits.deletedPeople)
      this.erasedContacts.delete(this.erasedContacts.values().next().value!);
  }

  isErased(contactId: string | null): boolean {
    return contactId !== null && this.erasedContacts.has(contactId);
  }

  deletedPerson(query: string): DeletedPerson | undefined {
    return this.deleted.get(query.trim());
  }

  /** The person's ids, shared with their previous outcome when they are the same. */
  private idsOf(o: DeliveryOutcome): PersonIds {
    const key = o.intercom_contact_id
      ? `c:${o.intercom_contact_id}`
      : o.email
        ? `e:${o.email.toLowerCase()}`
        : o.phone_number
          ? `p:${o.phone_number}`
          : null;
    const list = key === null ? undefined : this.people.get(key);
    const prev = list?.[list.length - 1]?.ids;
    if (prev && prev.contactId === o.intercom_contact_id && prev.email === o.email && prev.phone === o.phone_number)
      return prev;
    return { contactId: o.intercom_contact_id, email: o.email, phone: o.phone_number };
  }

  private contactOnly(contactId: string | null): PersonIds {
    const prev = contactId === null ? undefined : this.people.get(`c:${contactId}`)?.at(-1)?.ids;
    if (prev && prev.email === null && prev.phone === null) return prev;
    return { contactId, email: null, phone: null };
  }

  /**
   * MAPPING.md: contact.deleted removes the person from Klaviyo; the console keeps nothing of her
   * either, past her contact id, the times and the deletion's state.
   */
  private forgetPerson(o: DeliveryOutcome): void {
    const contactId = o.intercom_contact_id!;
    this.deleted.set(contactId, {
      contactId,
      requestedAt: o.event_time === null ? null : Date.parse(o.event_time),
      state: o.kind,
      outcomeAt: o.outcome_at,
    });
    if (this.deleted.size > this.limits.deletedPeople) this.deleted.delete(this.deleted.keys().next().value!);
    const keys = new Set([`c:${contactId}`]);
    if (o.email) keys.add(`e:${o.email.toLowerCase()}`);
    if (o.phone_number) keys.add(`p:${o.phone_number}`);
    const emails = new Set<string>(),
      phones = new Set<string>();
    const views: OutcomeView[] = [];
    for (const k of keys) for (const v of this.people.get(k) ?? []) views.push(v);
    for (const v of views) {
      if (v.email) emails.add(v.email);
      if (v.phone) phones.add(v.phone);
    }
    for (const e of emails) keys.add(`e:${e.toLowerCase()}`);
    for (const p of phones) keys.add(`p:${p}`);
    for (const k of keys) for (const v of this.people.get(k) ?? []) if (!views.includes(v)) views.push(v);
    const bare: PersonIds = { contactId, email: null, phone: null };
    const mine = (v: OutcomeView) =>
      v.contactId === contactId ||
      (v.email !== null && emails.has(v.email)) ||
      (v.phone !== null && phones.has(v.phone));
    for (const v of views) this.strip(v, bare);
    for (const k of keys) if (k !== `c:${contactId}`) this.people.delete(k);
    // her outcomes, now under her contact id only
    const list = views.filter((v) => v.contactId === contactId).sort((a, b) => a.outcomeAt - b.outcomeAt);
    if (list.length > 0) this.people.set(`c:${contactId}`, list.slice(-this.limits.perPerson));
    for (const s of this.metrics.values()) for (const v of s.latest) if (mine(v)) this.strip(v, bare);
    for (const l of this.letters.values()) if (l.letter?.key && l.letter.key.toString('utf8') === contactId) erase(l);
  }

  private strip(v: OutcomeView, bare: PersonIds): void {
    v.ids = bare;
    v.properties = null;
    // an error message may quote what was sent (an email, a phone): the kind and the time stay
    if (v.kind === 'dead_lettered' || v.kind === 'retried') v.reason = '(not kept: the person was deleted)';
  }

  private keysOf(ids: PersonIds): string[] {
    const keys: string[] = [];
    if (ids.email) keys.push(`e:${ids.email.toLowerCase()}`);
    if (ids.phone) keys.push(`p:${ids.phone}`);
    if (ids.contactId) keys.push(`c:${ids.contactId}`);
    return keys;
  }

  private index(view: OutcomeView): void {
    const keys = this.keysOf(view.ids);
    if (keys.length === 0) return;
    const old = this.ring[this.ringNext];
    if (old) this.forget(old);
    this.ring[this.ringNext] = view;
    this.ringNext = (this.ringNext + 1) % this.ring.length;
    for (const key of keys) {
      let list = this.people.get(key);
      if (!list) {
        list = [];
        this.people.set(key, list);
        if (this.people.size > this.limits.people) this.people.delete(this.people.keys().next().value!);
      }
      // the person page shows the newest profile as sent: older profiles keep no attributes
      if (view.recordKind === 'profile') for (const v of list) if (v.recordKind === 'profile') v.properties = null;
      list.push(view);
      if (list.length > this.limits.perPerson) list.shift();
    }
  }

  /** Drops the oldest outcome of the index (the first of its person's lists, unless already dropped there). */
  private forget(view: OutcomeView): void {
    for (const key of this.keysOf(view.ids)) {
      const list = this.people.get(key);
      if (list?.[0] !== view) continue;
      list.shift();
      if (list.length === 0) this.people.delete(key);
    }
  }

  /** One copy of a repeated string (metric names, reasons, topics); past 10,000 distinct ones, as given. */
  private intern(s: string): string {
    const known = this.interned.get(s);
    if (known !== undefined) return known;
    if (this.interned.size < 10_000) this.interned.set(s, s);
    return s;
  }
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim().slice(0, 1000);
}

function erase(l: LetterView): void {
  if (l.letter) l.letter = { ...l.letter, value: null, headers: [] };
  l.decoded = null;
  l.erased = true;
}
