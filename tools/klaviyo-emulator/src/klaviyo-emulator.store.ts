import { randomBytes } from 'node:crypto';
import { WindowPeakTracker } from './fixed-window-rate-limiter';
import { API_INTEGRATION, type MetricIntegration } from './metric-integration';

/** Identifier fields Klaviyo uses to find a profile (create_or_update_profile, bulk_create_events). */
export interface ProfileIdentifiers {
  readonly id?: string | null;
  readonly email?: string | null;
  readonly phone_number?: string | null;
  readonly external_id?: string | null;
}

/** A profile object as the contracts send it: `{ type: 'profile', id?, attributes: {...} }`. */
export interface ProfileInput {
  readonly id?: string | null;
  readonly attributes?: ProfileAttributesInput | null;
}

/** A profile's `attributes` in a request: the identifiers, custom `properties`, and the other standard attributes. */
export interface ProfileAttributesInput {
  readonly email?: string | null;
  readonly phone_number?: string | null;
  readonly external_id?: string | null;
  readonly properties?: Record<string, unknown> | null;
  readonly [attribute: string]: unknown;
}

export interface StoredProfile {
  readonly id: string;
  email: string | null;
  phone_number: string | null;
  external_id: string | null;
  /** Custom properties (`attributes.properties`), merged key by key on every upsert. */
  properties: Record<string, unknown>;
  /** The other standard attributes (first_name, last_name, location, ...). */
  attributes: Record<string, unknown>;
  readonly created: string;
  updated: string;
  last_event_date: string | null;
}

export interface StoredEvent {
  readonly id: string;
  readonly metric: string;
  readonly profileId: string;
  /** The identifiers the event was sent with. */
  readonly profile: {
    readonly email: string | null;
    readonly phone_number: string | null;
    readonly external_id: string | null;
    readonly id: string | null;
  };
  /** The request's own object, not a copy (keeps the emulator fast). Treat as read-only. */
  readonly properties: Record<string, unknown>;
  readonly time: string;
  readonly value: number | null;
  readonly value_currency: string | null;
  /** The unique_id sent, or Klaviyo's default: the event time truncated to the second. */
  readonly unique_id: string;
  readonly uniqueIdDefaulted: boolean;
  readonly backfill: boolean;
  readonly via: 'bulk_create_events' | 'create_event';
  /** The private key, or `oauth:<client_id>` for an OAuth app's Bearer token (never the token). */
  readonly apiKey: string;
  /** The metric the event is recorded under (get_metrics' id) and the name of its integration. */
  readonly metricId: string;
  readonly integration: string;
  readonly receivedAt: string;
}

export interface StoredMetric {
  readonly id: string;
  readonly name: string;
  /** The integration that created the metric (API for private-key events, the OAuth app's otherwise). */
  readonly integration: MetricIntegration;
  readonly created: string;
  updated: string;
  /** Events stored under this metric (duplicates not counted). */
  count: number;
}

export interface DeletionRequest {
  readonly id: string;
  readonly at: string;
  readonly apiKey: string;
  readonly identifier: { readonly email?: string; readonly phone_number?: string; readonly id?: string };
  readonly deletedProfileIds: readonly string[];
  readonly deletedEvents: number;
}

export interface RequestLogEntry {
  readonly at: string;
  readonly method: string;
  readonly path: string;
  readonly endpoint: string;
  /** HTTP status sent, or 0 when the emulator dropped the connection (timeout fault). */
  readonly status: number;
  readonly apiKey: string | null;
  readonly durationMs: number;
  readonly events?: number;
}

export interface EventInput {
  readonly metric: string;
  readonly properties: Record<string, unknown>;
  readonly time: string;
  readonly value: number | null;
  readonly value_currency: string | null;
  readonly unique_id: string;
  readonly uniqueIdDefaulted: boolean;
  readonly backfill: boolean;
}

export interface EmulatorStoreOptions {
  /** Keep every stored event in memory (default true); off keeps only counts and dedupe keys. */
  readonly retainEvents?: boolean;
  /** How many request-log entries to keep (oldest dropped first). */
  readonly requestLogCapacity?: number;
  /** Clock of the window peaks (default Date.now). */
  readonly now?: () => number;
}

export interface WindowPeaks {
  /** Highest number of requests that arrived in one fixed 1 s / 60 s window, per operation. */
  readonly seen: Record<string, { perSecond: number; perMinute: number }>;
  /** The same, counting only requests the rate limiter let through. */
  readonly admitted: Record<string, { perSecond: number; perMinute: number }>;
}

const REQUEST_LOG_CAPACITY = 20_000;

/** What the emulated Klaviyo account holds, for tests and the demo to read back. */
export class KlaviyoEmulatorStore {
  readonly events: StoredEvent[] = [];
  readonly deletions: DeletionRequest[] = [];
  private readonly profilesById = new Map<string, StoredProfile>();
  private readonly byEmail = new Map<string, StoredProfile>();
  private readonly byPhone = new Map<string, StoredProfile>();
  private readonly byExternalId = new Map<string, StoredProfile>();
  /** By metric key: the name for API metrics, `<integration id> \u0002 <name>` for an app's. */
  private readonly metricsByKey = new Map<string, StoredMetric>();
  private readonly metricsById = new Map<string, StoredMetric>();
  /** profile key → set of `metric key \u0001 unique_id` already stored (first one wins). */
  private readonly dedupe = new Map<string, Set<string>>();
  private log: RequestLogEntry[] = [];
  private readonly retainEvents: boolean;
  private readonly logCapacity: number;

  /** Arrivals per fixed window, per operation (recorded by the server). */
  readonly seenPeaks: WindowPeakTracker;
  readonly admittedPeaks: WindowPeakTracker;
  eventsStored = 0;
  duplicateEventsIgnored = 0;
  requestsTotal = 0;
  throttled = 0;
  readonly statusCounts: Record<string, number> = {};

  constructor(options: EmulatorStoreOptions = {}) {
    this.retainEvents = options.retainEvents ?? true;
    this.logCapacity = options.requestLogCapacity ?? REQUEST_LOG_CAPACITY;
    this.seenPeaks = new WindowPeakTracker(options.now ?? Date.now);
    this.admittedPeaks = new WindowPeakTracker(options.now ?? Date.now);
  }

  /** Max requests seen (and admitted) per fixed 1 s / 60 s window, per operation. */
  windowPeaks(): WindowPeaks {
    return { seen: this.seenPeaks.snapshot(), admitted: this.admittedPeaks.snapshot() };
  }

  profiles(): StoredProfile[] {
    return [...this.profilesById.values()];
  }

  profile(id: string): StoredProfile | undefined {
    return this.profilesById.get(id);
  }

  findProfile(identifiers: ProfileIdentifiers): StoredProfile | undefined {
    if (identifiers.id) {
      const p = this.profilesById.get(identifiers.id);
      if (p) return p;
    }
    if (identifiers.email) {
      const p = this.byEmail.get(normalizeEmail(identifiers.email));
      if (p) return p;
    }
    if (identifiers.phone_number) {
      const p = this.byPhone.get(identifiers.phone_number);
      if (p) return p;
    }
    if (identifiers.external_id) return this.byExternalId.get(identifiers.external_id);
    return undefined;
  }

  metrics(): StoredMetric[] {
    return [...this.metricsByKey.values()];
  }

  /** The metric of that name created by `integration` (by its name; default: the API metric, else any). */
  metric(name: string, integration?: string): StoredMetric | undefined {
    if (integration === undefined) {
      const api = this.metricsByKey.get(name);
      if (api) return api;
    }
    for (const m of this.metricsByKey.values())
      if (m.name === name && (integration === undefined || m.integration.name === integration)) return m;
    return undefined;
  }

  metricById(id: string): StoredMetric | undefined {
    return this.metricsById.get(id);
  }

  /** Whether every stored event is kept in `events` (EmulatorStoreOptions.retainEvents). */
  get retainsEvents(): boolean {
    return this.retainEvents;
  }

  requestLog(): readonly RequestLogEntry[] {
    return this.log;
  }

  /**
   * The key events of one person are deduplicated under: the stored profile's id when one matches
   * (by id, then email, then phone_number, then external_id), otherwise the first identifier present
   * in that same order. Two events that resolve to the same key, metric and unique_id are duplicates.
   */
  profileKey(identifiers: ProfileIdentifiers): string | undefined {
    const existing = this.findProfile(identifiers);
    if (existing) return existing.id;
    if (identifiers.email) return `email:${normalizeEmail(identifiers.email)}`;
    if (identifiers.phone_number) return `phone:${identifiers.phone_number}`;
    if (identifiers.external_id) return `external:${identifiers.external_id}`;
    if (identifiers.id) return `id:${identifiers.id}`;
    return undefined;
  }

  hasEvent(
    profileKey: string,
    metric: string,
    uniqueId: string,
    integration: MetricIntegration = API_INTEGRATION,
  ): boolean {
    return this.dedupe.get(profileKey)?.has(`${metricKey(metric, integration)}\u0001${uniqueId}`) ?? false;
  }

  /**
   * create_or_update_profile: "setting a field to `null` will clear out the field, whereas not including
   * a field in your request will leave it unchanged". Matches an existing profile by id, email,
   * phone_number, then external_id; otherwise creates one.
   *
   * An identifier another profile already holds is never moved: profile-import refuses such a request
   * first (409 duplicate_profile, checkNoConflict), and the event endpoints, which answer 202 before
   * any profile is resolved, record the event on the profile matched first and leave the other
   * identifier with its holder. Two profiles never share an email, phone number or external_id.
   */
  upsertProfile(input: ProfileInput, now: string): { profile: StoredProfile; created: boolean } {
    const attrs = input.attributes ?? {};
    let profile = this.findProfile({
      id: input.id,
      email: attrs.email,
      phone_number: attrs.phone_number,
      external_id: attrs.external_id,
    });
    const created = !profile;
    if (!profile) {
      // An unknown Klaviyo id is kept as the new profile's id, so later requests naming it find it.
      profile = {
        id: input.id || newKlaviyoId(),
        email: null,
        phone_number: null,
        external_id: null,
        properties: {},
        attributes: {},
        created: now,
        updated: now,
        last_event_date: null,
      };
      this.profilesById.set(profile.id, profile);
    }
    for (const key of Object.keys(attrs)) {
      const value = attrs[key];
      if (value === undefined) continue;
      // The identifiers are strings or null: the contract validation checked the request.
      const id = value as string | null;
      switch (key) {
        case 'email':
          if (this.heldByAnother(this.byEmail, id && normalizeEmail(id), profile)) break;
          this.reindex(this.byEmail, profile.email && normalizeEmail(profile.email), id && normalizeEmail(id), profile);
          profile.email = id;
          break;
        case 'phone_number':
          if (this.heldByAnother(this.byPhone, id, profile)) break;
          this.reindex(this.byPhone, profile.phone_number, id, profile);
          profile.phone_number = id;
          break;
        case 'external_id':
          if (this.heldByAnother(this.byExternalId, id, profile)) break;
          this.reindex(this.byExternalId, profile.external_id, id, profile);
          profile.external_id = id;
          break;
        case 'properties':
          if (value === null) profile.properties = {};
          else Object.assign(profile.properties, value);
          break;
        default:
          if (value === null) delete profile.attributes[key];
          else profile.attributes[key] = value;
      }
    }
    profile.updated = now;
    return { profile, created };
  }

  /** Stores the event unless its (profile, metric, unique_id) is already held: "only the first processed event will be recorded". */
  addEvent(
    profile: StoredProfile,
    sentWith: ProfileIdentifiers,
    e: EventInput,
    via: StoredEvent['via'],
    apiKey: string,
    now: string,
    integration: MetricIntegration = API_INTEGRATION,
  ): boolean {
    let keys = this.dedupe.get(profile.id);
    if (!keys) {
      keys = new Set();
      this.dedupe.set(profile.id, keys);
    }
    const mKey = metricKey(e.metric, integration);
    const key = `${mKey}\u0001${e.unique_id}`;
    if (keys.has(key)) {
      this.duplicateEventsIgnored++;
      return false;
    }
    keys.add(key);
    let metric = this.metricsByKey.get(mKey);
    if (!metric) {
      metric = { id: this.newMetricId(), name: e.metric, integration, created: now, updated: now, count: 0 };
      this.metricsByKey.set(mKey, metric);
      this.metricsById.set(metric.id, metric);
    }
    metric.count++;
    metric.updated = now;
    this.eventsStored++;
    if (!profile.last_event_date || e.time > profile.last_event_date) profile.last_event_date = e.time;
    if (this.retainEvents) {
      this.events.push({
        id: `evt_${this.eventsStored.toString(36)}_${profile.id.slice(-6)}`,
        metric: e.metric,
        profileId: profile.id,
        profile: {
          email: sentWith.email ?? null,
          phone_number: sentWith.phone_number ?? null,
          external_id: sentWith.external_id ?? null,
          id: sentWith.id ?? null,
        },
        properties: e.properties,
        time: e.time,
        value: e.value,
        value_currency: e.value_currency,
        unique_id: e.unique_id,
        uniqueIdDefaulted: e.uniqueIdDefaulted,
        backfill: e.backfill,
        via,
        apiKey,
        metricId: metric.id,
        integration: integration.name,
        receivedAt: now,
      });
    }
    return true;
  }

  /** request_profile_deletion: "All profiles that match the provided identifier will be deleted." */
  deleteProfiles(identifier: DeletionRequest['identifier'], apiKey: string, now: string): DeletionRequest {
    const matches = new Set<StoredProfile>();
    if (identifier.id) {
      const p = this.profilesById.get(identifier.id);
      if (p) matches.add(p);
    }
    if (identifier.email) {
      const p = this.byEmail.get(normalizeEmail(identifier.email));
      if (p) matches.add(p);
    }
    if (identifier.phone_number) {
      const p = this.byPhone.get(identifier.phone_number);
      if (p) matches.add(p);
    }
    let deletedEvents = 0;
    const ids = new Set<string>();
    for (const p of matches) {
      ids.add(p.id);
      this.profilesById.delete(p.id);
      if (p.email) this.byEmail.delete(normalizeEmail(p.email));
      if (p.phone_number) this.byPhone.delete(p.phone_number);
      if (p.external_id) this.byExternalId.delete(p.external_id);
      this.dedupe.delete(p.id);
    }
    // A deleted profile takes its event data with it (GDPR deletion removes the person's data).
    if (ids.size > 0 && this.retainEvents) {
      for (let i = this.events.length - 1; i >= 0; i--) {
        const e = this.events[i];
        if (!ids.has(e.profileId)) continue;
        this.events.splice(i, 1);
        const m = this.metricsById.get(e.metricId);
        if (m) m.count--;
        this.eventsStored--;
        deletedEvents++;
      }
    }
    const request: DeletionRequest = {
      id: newKlaviyoId(),
      at: now,
      apiKey,
      identifier,
      deletedProfileIds: [...ids],
      deletedEvents,
    };
    this.deletions.push(request);
    return request;
  }

  logRequest(entry: RequestLogEntry): void {
    this.requestsTotal++;
    const s = String(entry.status);
    this.statusCounts[s] = (this.statusCounts[s] ?? 0) + 1;
    if (entry.status === 429) this.throttled++;
    this.log.push(entry);
    if (this.log.length > this.logCapacity) this.log = this.log.slice(-Math.floor(this.logCapacity / 2));
  }

  reset(): void {
    this.events.length = 0;
    this.deletions.length = 0;
    this.profilesById.clear();
    this.byEmail.clear();
    this.byPhone.clear();
    this.byExternalId.clear();
    this.metricsByKey.clear();
    this.metricsById.clear();
    this.dedupe.clear();
    this.log = [];
    this.seenPeaks.reset();
    this.admittedPeaks.reset();
    this.eventsStored = 0;
    this.duplicateEventsIgnored = 0;
    this.requestsTotal = 0;
    this.throttled = 0;
    for (const k of Object.keys(this.statusCounts)) delete this.statusCounts[k];
  }

  /** A 6-character metric id (Klaviyo's are, e.g. `Y6Hmxn`), unique in this account. */
  private newMetricId(): string {
    for (;;) {
      const id = newKlaviyoId().slice(2, 8);
      if (!this.metricsById.has(id)) return id;
    }
  }

  private heldByAnother(index: Map<string, StoredProfile>, key: string | null, profile: StoredProfile): boolean {
    const holder = key ? index.get(key) : undefined;
    return holder !== undefined && holder !== profile;
  }

  private reindex(
    index: Map<string, StoredProfile>,
    oldKey: string | null,
    newKey: string | null,
    profile: StoredProfile,
  ): void {
    if (oldKey && index.get(oldKey) === profile) index.delete(oldKey);
    if (newKey) index.set(newKey, profile);
  }
}

/** API metrics are keyed by name alone (as before integrations existed); an app's by its id and the name. */
function metricKey(name: string, integration: MetricIntegration): string {
  return integration === API_INTEGRATION ? name : `${integration.id}\u0002${name}`;
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** A 26-character id shaped like Klaviyo's (e.g. `01GDDKASAP8TKDDA2GRZDSVP4H`). */
export function newKlaviyoId(): string {
  const bytes = randomBytes(24);
  let out = '01';
  for (let i = 0; i < 24; i++) out += CROCKFORD[bytes[i] & 31];
  return out;
}
