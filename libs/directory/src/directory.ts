import { Logger } from '@nestjs/common';
import type { Lookups, RequiredLookups } from '@iks/mapping';
import type { ContactSnapshot } from '@iks/domain';
import type { IntercomAdmin, IntercomContact, IntercomSubscriptionType, IntercomTeam, Loose } from '@iks/intercom';
import {
  DELETED,
  MemoryContactStore,
  storedValue,
  type ContactStore,
  type SnapshotAt,
  type StoredContact,
} from './contact-store';
import type { IntercomSource } from './intercom-source';

export interface DirectoryStats {
  contacts: number;
  tombstones: number;
  fetchedContacts: number;
  fetchFailures: number;
}

export interface DirectoryOptions {
  /** Where the contacts live (default: in memory, for offline tools and specs). */
  readonly store?: ContactStore;
  /** Contacts kept decoded in memory, least recently used out first. */
  readonly cacheContacts?: number;
  readonly now?: () => number;
}

/** A contact written here and not yet read back from the topic. */
interface Pending {
  readonly value: StoredContact;
  readonly contact?: Loose<IntercomContact>;
  readonly at: number;
}

/** A contact remembered here is shadowing the store for at most this long (its snapshot comes back from the topic long before). */
const PENDING_MAX_MS = 60_000;

/**
 * Everything the pure mapping looks up:
 * - contacts: event-sourced from the compacted intercom.contacts.v1 topic into a ContactStore
 *   (on local disk in the transformer: memory does not grow with contacts), read through a
 *   bounded cache; updated by contact.* notifications, completed by GET /contacts/{id};
 * - admins, teams, tags: GET /admins, /teams, /tags, refreshed every `refreshMs` (and at most
 *   once a minute when an id is unknown);
 * - subscriptions: GET /contacts/{id}/subscriptions, cached per contact.
 * Lookups stay synchronous for the pure mapping: the store reads synchronously, and prepare()
 * warms the cache with the contacts a notification needs.
 */
export class Directory implements Lookups {
  private readonly logger = new Logger(Directory.name);
  private store: ContactStore;
  private readonly cacheSize: number;
  /** Decoded contacts (or DELETED), in least-recently-used order. */
  private readonly cache = new Map<string, Loose<IntercomContact> | typeof DELETED>();
  /**
   * Contacts remembered or deleted here whose snapshot the store has not read back from the
   * topic yet: the mapping of the same notification must already see them. Only the topic
   * writes the store, so the store never holds what the topic does not.
   */
  private readonly pending = new Map<string, Pending>();
  private readonly admins = new Map<string, Loose<IntercomAdmin>>();
  private readonly teams = new Map<string, Loose<IntercomTeam>>();
  private readonly tags = new Map<string, string>();
  private readonly subs = new Map<string, { at: number; list: Loose<IntercomSubscriptionType>[] }>();
  private referencesAt = 0;
  private readonly now: () => number;
  readonly stats: DirectoryStats = { contacts: 0, tombstones: 0, fetchedContacts: 0, fetchFailures: 0 };

  constructor(
    private readonly source: IntercomSource,
    private readonly refreshMs: number,
    options: DirectoryOptions = {},
  ) {
    this.store = options.store ?? new MemoryContactStore();
    this.cacheSize = options.cacheContacts ?? 10_000;
    this.now = options.now ?? (() => Date.now());
    this.countStore();
  }

  /** Replaces the contact store (the transformer opens its local store at start). */
  useStore(store: ContactStore): void {
    this.store = store;
    this.cache.clear();
    this.countStore();
  }

  /** The store's next offset per partition of the contacts topic (empty: read from the beginning). */
  storedOffsets(): ReadonlyMap<number, bigint> {
    return this.store.offsets();
  }

  /** Forgets the stored contacts and offsets: the topic is read again from the beginning. */
  resetStore(): void {
    this.store.wipe();
    this.cache.clear();
    this.countStore();
  }

  /** Closes and opens the store again (after a rebuild: the pages it touched are no longer mapped). */
  async reopenStore(): Promise<void> {
    await this.store.reopen();
    this.cache.clear();
    this.countStore();
  }

  async close(): Promise<void> {
    this.cache.clear();
    await this.store.close();
  }

  // ---- Lookups (synchronous, for the pure mapping)
  contact(id: string): Loose<IntercomContact> | undefined {
    const v = this.lookup(id);
    return v === DELETED ? undefined : v;
  }
  contactDeleted(id: string): boolean {
    return this.lookup(id) === DELETED;
  }
  admin(id: string): Loose<IntercomAdmin> | undefined {
    return this.admins.get(id);
  }
  team(id: string): Loose<IntercomTeam> | undefined {
    return this.teams.get(id);
  }
  tagName(id: string): string | undefined {
    return this.tags.get(id);
  }
  subscriptions(contactId: string): Loose<IntercomSubscriptionType>[] | undefined {
    return this.subs.get(contactId)?.list;
  }

  /** Pending write, then the cache, then the store (decoded once, then cached). */
  private lookup(id: string): Loose<IntercomContact> | typeof DELETED | undefined {
    const p = this.pending.get(id);
    if (p) {
      if (this.now() - p.at <= PENDING_MAX_MS)
        return p.value === DELETED ? DELETED : (p.contact ?? (JSON.parse(p.value) as Loose<IntercomContact>));
      this.pending.delete(id);
    }
    const cached = this.cache.get(id);
    if (cached !== undefined) {
      this.cache.delete(id);
      this.cache.set(id, cached);
      return cached;
    }
    const stored = this.store.read(id);
    if (stored === undefined) return undefined;
    const v = stored === DELETED ? DELETED : (JSON.parse(stored) as Loose<IntercomContact>);
    this.cacheSet(id, v);
    return v;
  }

  private cacheSet(id: string, v: Loose<IntercomContact> | typeof DELETED): void {
    if (this.cacheSize <= 0) return;
    this.cache.delete(id);
    this.cache.set(id, v);
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value as string);
  }

  // ---- event sourcing
  /** Snapshots read from the contacts topic, with their offsets (stored together). */
  applyRecords(records: readonly SnapshotAt[]): void {
    this.store.apply(records);
    for (const { snapshot } of records) this.settle(snapshot);
    this.countStore();
  }

  /** One snapshot not tied to an offset (tools and specs that feed the directory by hand). */
  apply(snapshot: ContactSnapshot): void {
    this.store.put(snapshot);
    this.settle(snapshot);
    this.countStore();
  }

  /** The store changed for this contact: drop its cached form, and its pending write once the topic brought it back. */
  private settle(snapshot: ContactSnapshot): void {
    this.cache.delete(snapshot.id);
    const p = this.pending.get(snapshot.id);
    if (p && p.value === storedValue(snapshot)) this.pending.delete(snapshot.id);
  }

  private countStore(): void {
    const c = this.store.counts();
    this.stats.contacts = c.contacts;
    this.stats.tombstones = c.tombstones;
  }

  /** Remember a full contact (from a contact.* notification or a fetch); returns the snapshot to persist. */
  remember(contact: Loose<IntercomContact>): ContactSnapshot {
    const id = String(contact.id);
    const snapshot: ContactSnapshot = {
      id,
      deleted: false,
      contact_json: JSON.stringify(contact),
      recorded_at: this.now(),
    };
    // the object is at hand: no need to parse back the JSON until the topic brings it to the store
    this.hold(id, { value: storedValue(snapshot) as string, contact, at: this.now() });
    return snapshot;
  }

  tombstone(id: string): ContactSnapshot {
    const snapshot: ContactSnapshot = { id, deleted: true, contact_json: null, recorded_at: this.now() };
    this.hold(id, { value: DELETED, at: this.now() });
    return snapshot;
  }

  /** Bounded like the cache: a write whose snapshot never comes back (its produce failed) does not stay. */
  private hold(id: string, p: Pending): void {
    this.cache.delete(id);
    this.pending.delete(id);
    this.pending.set(id, p);
    if (this.pending.size > Math.max(1000, this.cacheSize))
      this.pending.delete(this.pending.keys().next().value as string);
  }

  /**
   * Do the I/O the mapping will need. Returns the contacts fetched from Intercom (they are
   * persisted to the directory topic and upserted as profiles by the caller).
   */
  async prepare(req: RequiredLookups): Promise<Array<{ contact: Loose<IntercomContact>; snapshot: ContactSnapshot }>> {
    const fetched: Array<{ contact: Loose<IntercomContact>; snapshot: ContactSnapshot }> = [];
    if (!this.source.enabled) {
      for (const id of req.contactIds) this.lookup(id); // into the cache, for the mapping that follows
      return fetched;
    }
    const missingRefs =
      req.adminIds.some((id) => !this.admins.has(id)) ||
      req.teamIds.some((id) => !this.teams.has(id)) ||
      req.tagIds.some((id) => !this.tags.has(id));
    const age = this.now() - this.referencesAt;
    if (age > this.refreshMs || (missingRefs && age > 60_000)) await this.refreshReferences();
    for (const id of req.contactIds) {
      // also brings the contact into the cache for the mapping that follows
      if (this.lookup(id) !== undefined) continue;
      try {
        const c = await this.source.getContact(id);
        if (c) {
          fetched.push({ contact: c, snapshot: this.remember(c) });
          this.stats.fetchedContacts++;
        }
      } catch (e) {
        // Not fatal: the notification takes the retry path and the fetch is tried again later.
        this.stats.fetchFailures++;
        this.logger.warn(`GET /contacts/${id} failed: ${(e as Error).message}`);
      }
    }
    for (const id of req.subscriptionContactIds) {
      const cached = this.subs.get(id);
      if (cached && this.now() - cached.at < this.refreshMs) continue;
      try {
        this.subs.set(id, { at: this.now(), list: await this.source.getContactSubscriptions(id) });
      } catch (e) {
        this.logger.warn(`GET /contacts/${id}/subscriptions failed: ${(e as Error).message}`);
      }
    }
    return fetched;
  }

  async refreshReferences(): Promise<void> {
    try {
      const [admins, teams, tags] = await Promise.all([
        this.source.listAdmins(),
        this.source.listTeams(),
        this.source.listTags(),
      ]);
      this.admins.clear();
      for (const a of admins) this.admins.set(String(a.id), a);
      this.teams.clear();
      for (const t of teams) this.teams.set(String(t.id), t);
      this.tags.clear();
      for (const t of tags) if (t.name) this.tags.set(String(t.id), t.name);
      this.referencesAt = this.now();
    } catch (e) {
      // keep the previous lists; names are omitted (not wrong) until the next refresh succeeds
      this.referencesAt = this.now() - this.refreshMs + 60_000;
      this.logger.warn(`refreshing admins/teams/tags failed: ${(e as Error).message}`);
    }
  }

  /** Tags named in contact.*.tag.created notifications are remembered too. */
  rememberTag(id: string, name: string): void {
    this.tags.set(id, name);
  }
}
