import type { Secret } from '@iks/config';
import type { ConnectionRecord } from '@iks/kafka';
import { DEFAULT_CONNECTION_ID, type Connection, type ConnectionDirectory } from './connection.types';
import { sealedKeyIds, unsealConnection } from './connection-record';
import { ANY_WORKSPACE } from './default-connection';
import type { ConnectionSealer } from './sealing';

/** A connection of the topic the directory cannot use: its last record could not be decoded or unsealed. */
export interface UnusableConnection {
  readonly id: string;
  /** The record's revision; null when not even that could be read. */
  readonly revision: number | null;
  /** Why (never a secret). */
  readonly reason: string;
}

/** What one record of the topic did to the view. */
export type ApplyOutcome =
  | { readonly kind: 'applied'; readonly connection: Connection }
  | { readonly kind: 'stale'; readonly revision: number; readonly current: number }
  | { readonly kind: 'unusable'; readonly reason: string }
  | { readonly kind: 'tombstone'; readonly existed: boolean };

/** Counts since start (the directory's metrics and logs). */
export interface ConnectionViewStats {
  readonly applied: number;
  /** Records of a lower revision than the one held: ignored. */
  readonly stale: number;
  /** Records that could not be decoded or unsealed. */
  readonly unusable: number;
  readonly tombstones: number;
}

interface Entry {
  /** The highest revision read for the id (usable or not); -1 when its record could not be read at all. */
  readonly revision: number;
  readonly connection: Connection | null;
  readonly keyIds: readonly string[];
  readonly problem: string | null;
}

/**
 * The in-memory view of the connections topic, merged with the default connection from the
 * environment: what every app reads. Records are applied by revision (a lower revision never
 * replaces a higher one; an equal one, later in the partition, does, so every reader ends on the
 * same record). A record that cannot be decoded or unsealed takes its connection out of the view
 * (reported by unusable(), its workspace then unclaimed: its webhooks are kept, nothing lost)
 * until a usable record of a revision at least as high arrives. A tombstone forgets the id.
 */
export class ConnectionView implements ConnectionDirectory {
  readonly #entries = new Map<string, Entry>();
  /** app_id -> the connection claiming it (not removed); rebuilt after a change (ingest asks once per webhook). */
  #byAppId: Map<string, Connection> | null = null;
  readonly #listeners = new Set<(c: Connection, p: Connection | undefined) => void>();
  readonly #waiters = new Set<() => void>();
  readonly #defaultConnection: Connection | null;
  /** Every client secret of the environment (INTERCOM_CLIENT_SECRET lists several while rotating). */
  readonly #environmentSecrets: readonly Secret[];
  #stats = { applied: 0, stale: 0, unusable: 0, tombstones: 0 };

  constructor(
    private readonly sealer: ConnectionSealer | null,
    defaults: { readonly connection: Connection | null; readonly clientSecrets?: readonly Secret[] } = {
      connection: null,
    },
  ) {
    this.#defaultConnection = defaults.connection;
    this.#environmentSecrets = defaults.connection ? (defaults.clientSecrets ?? []) : [];
  }

  get stats(): ConnectionViewStats {
    return { ...this.#stats };
  }

  /** A decoded record of the topic under its key. */
  applyRecord(key: string, record: ConnectionRecord): ApplyOutcome {
    const held = this.#entries.get(key);
    if (held && record.revision < held.revision) {
      this.#stats.stale++;
      return { kind: 'stale', revision: record.revision, current: held.revision };
    }
    if (record.id !== key)
      return this.#unusable(
        key,
        record.revision,
        `its key "${key.slice(0, 70)}" is not its id "${record.id.slice(0, 70)}"`,
      );
    let connection: Connection;
    try {
      connection = unsealConnection(record, this.sealer);
    } catch (e) {
      return this.#unusable(key, record.revision, (e as Error).message, sealedKeyIds(record));
    }
    this.#byAppId = null;
    this.#entries.set(key, { revision: record.revision, connection, keyIds: sealedKeyIds(record), problem: null });
    this.#stats.applied++;
    this.#changed(connection, held?.connection ?? undefined);
    return { kind: 'applied', connection };
  }

  /** A record under `key` whose bytes are not a connection record (Avro, schema). */
  applyUndecodable(key: string, reason: string): ApplyOutcome {
    return this.#unusable(key, null, reason);
  }

  /** A null value: the connection is gone from the topic. */
  applyTombstone(key: string): ApplyOutcome {
    const held = this.#entries.get(key);
    this.#byAppId = null;
    this.#entries.delete(key);
    this.#stats.tombstones++;
    if (held?.connection && held.connection.status !== 'removed')
      this.#changed({ ...held.connection, status: 'removed' }, held.connection);
    else this.#wake();
    return { kind: 'tombstone', existed: held !== undefined };
  }

  #unusable(key: string, revision: number | null, reason: string, keyIds: readonly string[] = []): ApplyOutcome {
    const held = this.#entries.get(key);
    this.#stats.unusable++;
    this.#byAppId = null;
    this.#entries.set(key, {
      revision: revision ?? held?.revision ?? -1,
      connection: null,
      keyIds,
      problem: reason,
    });
    if (held?.connection && held.connection.status !== 'removed')
      this.#changed({ ...held.connection, status: 'removed' }, held.connection);
    else this.#wake();
    return { kind: 'unusable', reason };
  }

  #changed(current: Connection, previous: Connection | undefined): void {
    for (const l of this.#listeners) l(current, previous);
    this.#wake();
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  get(id: string): Connection | undefined {
    if (id === DEFAULT_CONNECTION_ID && this.#defaultConnection) return this.#defaultConnection;
    return this.#entries.get(id)?.connection ?? undefined;
  }

  /** A connection of the topic claiming `appId`; else the default connection when it claims it (or ANY_WORKSPACE). */
  byAppId(appId: string): Connection | undefined {
    if (!this.#byAppId) {
      this.#byAppId = new Map();
      for (const e of this.#entries.values()) {
        const c = e.connection;
        if (c && c.status !== 'removed' && !this.#byAppId.has(c.intercom.appId)) this.#byAppId.set(c.intercom.appId, c);
      }
    }
    const claimed = this.#byAppId.get(appId);
    if (claimed) return claimed;
    const d = this.#defaultConnection;
    if (d && (d.intercom.appId === appId || d.intercom.appId === ANY_WORKSPACE)) return d;
    return undefined;
  }

  all(): readonly Connection[] {
    const out: Connection[] = this.#defaultConnection ? [this.#defaultConnection] : [];
    for (const e of this.#entries.values())
      if (e.connection && e.connection.status !== 'removed') out.push(e.connection);
    return out;
  }

  /** Every connection the topic holds, removed ones included, by id after the default one (cli connections list). */
  allWithRemoved(): readonly Connection[] {
    const held = [...this.#entries.values()].flatMap((e) => (e.connection ? [e.connection] : []));
    held.sort((a, b) => (a.id < b.id ? -1 : 1));
    return this.#defaultConnection ? [this.#defaultConnection, ...held] : held;
  }

  clientSecrets(): readonly Secret[] {
    const seen = new Map<string, Secret>();
    const add = (s: Secret | null) => {
      if (s && !seen.has(s.reveal())) seen.set(s.reveal(), s);
    };
    for (const c of this.all()) add(c.intercom.clientSecret);
    for (const s of this.#environmentSecrets) add(s);
    return [...seen.values()];
  }

  onChange(listener: (current: Connection, previous: Connection | undefined) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Connections of the topic whose last record cannot be used, with the reason. */
  unusable(): readonly UnusableConnection[] {
    const out: UnusableConnection[] = [];
    for (const [id, e] of this.#entries)
      if (e.problem !== null) out.push({ id, revision: e.revision < 0 ? null : e.revision, reason: e.problem });
    return out.sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** The highest revision read for `id` (usable or not), or undefined when the topic does not hold it. */
  revisionOf(id: string): number | undefined {
    const e = this.#entries.get(id);
    return e === undefined ? undefined : Math.max(e.revision, 0);
  }

  /** The key ids the current record of `id` is sealed under. */
  keyIdsOf(id: string): readonly string[] {
    return this.#entries.get(id)?.keyIds ?? [];
  }

  /** Resolves once `id` has a record of at least `revision` (or rejects after timeoutMs). */
  whenRevision(id: string, revision: number, timeoutMs = 30_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const e = this.#entries.get(id);
        if (e && e.revision >= revision) {
          this.#waiters.delete(check);
          clearTimeout(timer);
          resolve();
        }
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`connection "${id}" revision ${revision} not read within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }
}
