import { Logger } from '@nestjs/common';
import type { IntercomAdmin, IntercomContact, IntercomSubscriptionType, IntercomTeam, Lookups, RequiredLookups } from '@iks/mapping';
import type { ContactSnapshot } from '@iks/domain';
import type { IntercomSource } from './intercom-source';

export interface DirectoryStats {
  contacts: number;
  tombstones: number;
  fetchedContacts: number;
  fetchFailures: number;
}

/**
 * Everything the pure mapping looks up, held in memory:
 * - contacts: event-sourced from the compacted intercom.contacts.v1 topic (replayed at start),
 *   updated by contact.* notifications, completed by GET /contacts/{id} for unknown ones;
 * - admins, teams, tags: GET /admins, /teams, /tags, refreshed every `refreshMs` (and at most
 *   once a minute when an id is unknown);
 * - subscriptions: GET /contacts/{id}/subscriptions, cached per contact.
 */
export class Directory implements Lookups {
  private readonly logger = new Logger(Directory.name);
  private readonly contacts = new Map<string, IntercomContact>();
  private readonly deleted = new Set<string>();
  private readonly admins = new Map<string, IntercomAdmin>();
  private readonly teams = new Map<string, IntercomTeam>();
  private readonly tags = new Map<string, string>();
  private readonly subs = new Map<string, { at: number; list: IntercomSubscriptionType[] }>();
  private referencesAt = 0;
  readonly stats: DirectoryStats = { contacts: 0, tombstones: 0, fetchedContacts: 0, fetchFailures: 0 };

  constructor(private readonly source: IntercomSource, private readonly refreshMs: number, private readonly now = () => Date.now()) {}

  // ---- Lookups (synchronous, for the pure mapping)
  contact(id: string): IntercomContact | undefined {
    return this.contacts.get(id);
  }
  contactDeleted(id: string): boolean {
    return this.deleted.has(id);
  }
  admin(id: string): IntercomAdmin | undefined {
    return this.admins.get(id);
  }
  team(id: string): IntercomTeam | undefined {
    return this.teams.get(id);
  }
  tagName(id: string): string | undefined {
    return this.tags.get(id);
  }
  subscriptions(contactId: string): IntercomSubscriptionType[] | undefined {
    return this.subs.get(contactId)?.list;
  }

  // ---- event sourcing
  apply(snapshot: ContactSnapshot): void {
    if (snapshot.deleted) {
      this.contacts.delete(snapshot.id);
      this.deleted.add(snapshot.id);
    } else if (snapshot.contact_json) {
      this.contacts.set(snapshot.id, JSON.parse(snapshot.contact_json) as IntercomContact);
      this.deleted.delete(snapshot.id);
    }
    this.stats.contacts = this.contacts.size;
    this.stats.tombstones = this.deleted.size;
  }

  /** Remember a full contact (from a contact.* notification or a fetch); returns the snapshot to persist. */
  remember(contact: IntercomContact): ContactSnapshot {
    const id = String(contact.id);
    const snapshot: ContactSnapshot = { id, deleted: false, contact_json: JSON.stringify(contact), recorded_at: this.now() };
    // the object is at hand: no need to parse back the JSON that apply() reads from the topic
    this.contacts.set(id, contact);
    this.deleted.delete(id);
    this.stats.contacts = this.contacts.size;
    this.stats.tombstones = this.deleted.size;
    return snapshot;
  }

  tombstone(id: string): ContactSnapshot {
    const snapshot: ContactSnapshot = { id, deleted: true, contact_json: null, recorded_at: this.now() };
    this.apply(snapshot);
    return snapshot;
  }

  /**
   * Do the I/O the mapping will need. Returns the contacts fetched from Intercom (they are
   * persisted to the directory topic and upserted as profiles by the caller).
   */
  async prepare(req: RequiredLookups): Promise<Array<{ contact: IntercomContact; snapshot: ContactSnapshot }>> {
    const fetched: Array<{ contact: IntercomContact; snapshot: ContactSnapshot }> = [];
    if (!this.source.enabled) return fetched;
    const missingRefs =
      req.adminIds.some((id) => !this.admins.has(id)) || req.teamIds.some((id) => !this.teams.has(id)) || req.tagIds.some((id) => !this.tags.has(id));
    const age = this.now() - this.referencesAt;
    if (age > this.refreshMs || (missingRefs && age > 60_000)) await this.refreshReferences();
    for (const id of req.contactIds) {
      if (this.contacts.has(id) || this.deleted.has(id)) continue;
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
      const [admins, teams, tags] = await Promise.all([this.source.listAdmins(), this.source.listTeams(), this.source.listTags()]);
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
