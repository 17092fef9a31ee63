import { Logger } from '@nestjs/common';
import type { Lookups, RequiredLookups } from '@iks/mapping';
import { DEFAULT_CONNECTION_ID, type ContactSnapshot } from '@iks/domain';
import type { IntercomAdmin, IntercomContact, IntercomSubscriptionType, IntercomTeam, Loose } from '@iks/intercom';
import {
  DELETED,
  directoryKey,
  MemoryContactStore,
  snapshotKey,
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
 * What the transformer maps one notification with: the lookups of one connection's workspace
 * (contacts, admins, teams, tags, subscriptions) and the directory writes the notification makes.
 * `Directory` is the default connection's; `directory.forConnection(...)` another's.
 */
export interface DirectoryView extends Lookups {
  readonly connectionId: string;
  remember(contact: Loose<IntercomContact>): ContactSnapshot;
  tombstone(id: string): ContactSnapshot;
  rememberTag(id: string, name: string): void;
  prepare(req: RequiredLookups): Promise<Array<{ contact: Loose<IntercomContact>; snapshot: ContactSnapshot }>>;
  refreshReferences(): Promise<void>;
}

/**
 * The contacts of every connection: one store (the compacted contacts topic on local disk),
 * one bounded cache and the writes not yet read back, all by directoryKey (two workspaces'
 * contact ids never meet).
 */
class SharedContacts {
  store: ContactStore;
  readonly cacheSize: number;
  /** Decoded contacts (or DELETED), in least-recently-used order. */
  readonly cache = new Map<string, Loose<IntercomContact> | typeof DELETED>();
  /**
   * Contacts remembered or deleted here whose snapshot the store has not read back from the
   * topic yet: the mapping of the same notification must already see them. Only the topic
   * writes the store, so the store never holds what the topic does not.
   */
  readonly pending = new Map<string, Pending>();
  readonly now: () => number;
  readonly stats: DirectoryStats = { contacts: 0, tombstones: 0, fetchedContacts: 0, fetchFailures: 0 };

  constructor(options: DirectoryOptions) {
    this.store = options.store ?? new MemoryContactStore();
    this.cacheSize = options.cacheContacts ?? 10_000;
    this.now = options.now ?? (() => Date.now());
    this.countStore();
  }

  /** Pending write, then the cache, then the store (decoded once, then cached). */
  lookup(key: string): Loose<IntercomContact> | typeof DELETED | undefined {
    const p = this.pending.get(key);
    if (p) {
      if (this.now() - p.at <= PENDING_MAX_MS)
        return p.value === DELETED ? DELETED : (p.contact ?? (JSON.parse(p.value) as Loose<IntercomContact>));
      this.pending.delete(key);
    }
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      this.cache.delete(key);
      this.cache.set(key, cached);
      return cached;
    }
    const stored = this.store.read(key);
    if (stored === undefined) return undefined;
    const v = stored === DELETED ? DELETED : (JSON.parse(stored) as Loose<IntercomContact>);
    this.cacheSet(key, v);
    return v;
  }

  private cacheSet(key: string, v: Loose<IntercomContact> | typeof DELETED): void {
    if (this.cacheSize <= 0) return;
    this.cache.delete(key);
    this.cache.set(key, v);
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value as string);
  }

  /** The store changed for this contact: drop its cached form, and its pending write once the topic brought it back. */
  settle(snapshot: ContactSnapshot): void {
    const key = snapshotKey(snapshot);
    this.cache.delete(key);
    const p = this.pending.get(key);
    if (p && p.value === storedValue(snapshot)) this.pending.delete(key);
  }

  /** Bounded like the cache: a write whose snapshot never comes back (its produce failed) does not stay. */
  hold(key: string, p: Pending): void {
    this.cache.delete(key);
    this.pending.delete(key);
    this.pending.set(key, p);
    if (this.pending.size > Math.max(1000, this.cacheSize))
      this.pending.delete(this.pending.keys().next().value as string);
  }

  countStore(): void {
    const c = this.store.counts();
    this.stats.contacts = c.contacts;
    this.stats.tombstones = c.tombstones;
  }
}

/**
 * One connection's workspace over the shared contacts: its contacts by directoryKey, and its
 * own admins, teams, tags and subscriptions, read through its own IntercomSource (the
 * connection's API host and token).
 */
class WorkspaceDirectory implements DirectoryView {
  private readonly logger = new Logger(Directory.name);
  private readonly admins = new Map<string, Loose<IntercomAdmin>>();
  private readonly teams = new Map<string, Loose<IntercomTeam>>();
  private readonly tags = new Map<string, string>();
  private readonly subs = new Map<string, { at: number; list: Loose<IntercomSubscriptionType>[] }>();
  private referencesAt = 0;

  constructor(
    private readonly shared: SharedContacts,
    readonly connectionId: string,
    private source: IntercomSource,
    private readonly refreshMs: number,
    /** The connection's revision the source was made for. */
    public revision = 0,
  ) {}

  /** The connection changed (a new token, another host): its next lookups use `source`, the reference lists are refreshed. */
  replaceSource(source: IntercomSource, revision: number): void {
    this.source = source;
    this.revision = revision;
    this.referencesAt = 0;
  }

  private key(id: string): string {
    return directoryKey(this.connectionId, id);
  }

  // ---- Lookups (synchronous, for the pure mapping)
  contact(id: string): Loose<IntercomContact> | undefined {
    const v = this.shared.lookup(this.key(id));
    return v === DELETED ? undefined : v;
  }
  contactDeleted(id: string): boolean {
    return this.shared.lookup(this.key(id)) === DELETED;
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

  /** The snapshot tagged with this workspace's connection (absent for the default connection). */
  private snapshot(s: ContactSnapshot): ContactSnapshot {
    return this.connectionId === DEFAULT_CONNECTION_ID ? s : { ...s, connection_id: this.connectionId };
  }

  remember(contact: Loose<IntercomContact>): ContactSnapshot {
    const id = String(contact.id);
    const now = this.shared.now();
    const snapshot = this.snapshot({ id, deleted: false, contact_json: JSON.stringify(contact), recorded_at: now });
    // the object is at hand: no need to parse back the JSON until the topic brings it to the store
    this.shared.hold(this.key(id), { value: storedValue(snapshot) as string, contact, at: now });
    return snapshot;
  }

  tombstone(id: string): ContactSnapshot {
    const now = this.shared.now();
    const snapshot = this.snapshot({ id, deleted: true, contact_json: null, recorded_at: now });
    this.shared.hold(this.key(id), { value: DELETED, at: now });
    return snapshot;
  }

  async prepare(req: RequiredLookups): Promise<Array<{ contact: Loose<IntercomContact>; snapshot: ContactSnapshot }>> {
    const fetched: Array<{ contact: Loose<IntercomContact>; snapshot: ContactSnapshot }> = [];
    const stats = this.shared.stats;
    if (!this.source.enabled) {
      for (const id of req.contactIds) this.shared.lookup(this.key(id)); // into the cache, for the mapping that follows
      return fetched;
    }
    const missingRefs =
      req.adminIds.some((id) => !this.admins.has(id)) ||
      req.teamIds.some((id) => !this.teams.has(id)) ||
      req.tagIds.some((id) => !this.tags.has(id));
    const age = this.shared.now() - this.referencesAt;
    if (age > this.refreshMs || (missingRefs && age > 60_000)) await this.refreshReferences();
    for (const id of req.contactIds) {
      // also brings the contact into the cache for the mapping that follows
      if (this.shared.lookup(this.key(id)) !== undefined) continue;
      try {
        const c = await this.source.getContact(id);
        if (c) {
          fetched.push({ contact: c, snapshot: this.remember(c) });
          stats.fetchedContacts++;
        }
      } catch (e) {
        // Not fatal: the notification takes the retry path and the fetch is tried again later.
        stats.fetchFailures++;
        this.logger.warn(`${this.where()}GET /contacts/${id} failed: ${(e as Error).message}`);
      }
    }
    for (const id of req.subscriptionContactIds) {
      const cached = this.subs.get(id);
      if (cached && this.shared.now() - cached.at < this.refreshMs) continue;
      try {
        this.subs.set(id, { at: this.shared.now(), list: await this.source.getContactSubscriptions(id) });
      } catch (e) {
        this.logger.warn(`${this.where()}GET /contacts/${id}/subscriptions failed: ${(e as Error).message}`);
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
      this.referencesAt = this.shared.now();
    } catch (e) {
      // keep the previous lists; names are omitted (not wrong) until the next refresh succeeds
      this.referencesAt = this.shared.now() - this.refreshMs + 60_000;
      this.logger.warn(`${this.where()}refreshing admins/teams/tags failed: ${(e as Error).message}`);
    }
  }

  /** Tags named in contact.*.tag.created notifications are remembered too. */
  rememberTag(id: string, name: string): void {
    this.tags.set(id, name);
  }

  /** Log lines of a connection but the default name it (the default's read as before connections). */
  private where(): string {
    return this.connectionId === DEFAULT_CONNECTION_ID ? '' : `connection ${this.connectionId}: `;
  }
}

/**
 * Everything the pure mapping looks up, per connection (docs/CONNECTIONS.md):
 * - contacts: event-sourced from the compacted intercom.contacts.v1 topic into a ContactStore
 *   (on local disk in the transformer: memory does not grow with contacts), read through a
 *   bounded cache; updated by contact.* notifications, completed by GET /contacts/{id}; a
 *   contact of a connection but the default is stored as `<connection id>/<contact id>`;
 * - admins, teams, tags: GET /admins, /teams, /tags of the connection's workspace, refreshed
 *   every `refreshMs` (and at most once a minute when an id is unknown);
 * - subscriptions: GET /contacts/{id}/subscriptions, cached per contact.
 * Lookups stay synchronous for the pure mapping: the store reads synchronously, and prepare()
 * warms the cache with the contacts a notification needs. The Directory itself is the default
 * connection's view (as before connections); forConnection() gives another connection's.
 */
export class Directory implements DirectoryView {
  private readonly shared: SharedContacts;
  private readonly defaultView: WorkspaceDirectory;
  private readonly views = new Map<string, WorkspaceDirectory>();
  readonly connectionId = DEFAULT_CONNECTION_ID;

  constructor(
    source: IntercomSource,
    private readonly refreshMs: number,
    options: DirectoryOptions = {},
  ) {
    this.shared = new SharedContacts(options);
    this.defaultView = new WorkspaceDirectory(this.shared, DEFAULT_CONNECTION_ID, source, refreshMs);
  }

  get stats(): DirectoryStats {
    return this.shared.stats;
  }

  /**
   * The view of connection `connectionId` (the default connection: this directory). `source` is
   * called when the view is made, or again when `revision` differs from the one it was made
   * for (a new token or host).
   */
  forConnection(connectionId: string, source: () => IntercomSource, revision = 0): DirectoryView {
    if (connectionId === DEFAULT_CONNECTION_ID) return this;
    const view = this.views.get(connectionId);
    if (!view) {
      const made = new WorkspaceDirectory(this.shared, connectionId, source(), this.refreshMs, revision);
      this.views.set(connectionId, made);
      return made;
    }
    if (view.revision !== revision) view.replaceSource(source(), revision);
    return view;
  }

  /** Drops a connection's admins, teams, tags and subscriptions (it was removed); its contacts stay in the topic. */
  forgetConnection(connectionId: string): void {
    this.views.delete(connectionId);
  }

  /** Replaces the contact store (the transformer opens its local store at start). */
  useStore(store: ContactStore): void {
    this.shared.store = store;
    this.shared.cache.clear();
    this.shared.countStore();
  }

  /** The store's next offset per partition of the contacts topic (empty: read from the beginning). */
  storedOffsets(): ReadonlyMap<number, bigint> {
    return this.shared.store.offsets();
  }

  /** Forgets the stored contacts and offsets: the topic is read again from the beginning. */
  resetStore(): void {
    this.shared.store.wipe();
    this.shared.cache.clear();
    this.shared.countStore();
  }

  /** Closes and opens the store again (after a rebuild: the pages it touched are no longer mapped). */
  async reopenStore(): Promise<void> {
    await this.shared.store.reopen();
    this.shared.cache.clear();
    this.shared.countStore();
  }

  async close(): Promise<void> {
    this.shared.cache.clear();
    await this.shared.store.close();
  }

  // ---- the default connection's lookups (synchronous, for the pure mapping)
  contact(id: string): Loose<IntercomContact> | undefined {
    return this.defaultView.contact(id);
  }
  contactDeleted(id: string): boolean {
    return this.defaultView.contactDeleted(id);
  }
  admin(id: string): Loose<IntercomAdmin> | undefined {
    return this.defaultView.admin(id);
  }
  team(id: string): Loose<IntercomTeam> | undefined {
    return this.defaultView.team(id);
  }
  tagName(id: string): string | undefined {
    return this.defaultView.tagName(id);
  }
  subscriptions(contactId: string): Loose<IntercomSubscriptionType>[] | undefined {
    return this.defaultView.subscriptions(contactId);
  }

  // ---- event sourcing (every connection's snapshots, by their connection_id)
  /** Snapshots read from the contacts topic, with their offsets (stored together). */
  applyRecords(records: readonly SnapshotAt[]): void {
    this.shared.store.apply(records);
    for (const { snapshot } of records) this.shared.settle(snapshot);
    this.shared.countStore();
  }

  /** One snapshot not tied to an offset (tools and specs that feed the directory by hand). */
  apply(snapshot: ContactSnapshot): void {
    this.shared.store.put(snapshot);
    this.shared.settle(snapshot);
    this.shared.countStore();
  }

  /** Remember a full contact of the default connection (from a contact.* notification or a fetch); returns the snapshot to persist. */
  remember(contact: Loose<IntercomContact>): ContactSnapshot {
    return this.defaultView.remember(contact);
  }

  tombstone(id: string): ContactSnapshot {
    return this.defaultView.tombstone(id);
  }

  /**
   * Do the I/O the mapping will need (the default connection). Returns the contacts fetched from
   * Intercom (they are persisted to the directory topic and upserted as profiles by the caller).
   */
  prepare(req: RequiredLookups): Promise<Array<{ contact: Loose<IntercomContact>; snapshot: ContactSnapshot }>> {
    return this.defaultView.prepare(req);
  }

  refreshReferences(): Promise<void> {
    return this.defaultView.refreshReferences();
  }

  /** Tags named in contact.*.tag.created notifications are remembered too. */
  rememberTag(id: string, name: string): void {
    this.defaultView.rememberTag(id, name);
  }
}
