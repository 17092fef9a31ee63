import type { Kafka, Producer } from 'kafkajs';
import type { KafkaConfig } from '@iks/config';
import { ensureTopics, type AvroCodec } from '@iks/kafka';
import type { Connection, ConnectionStatus } from './connection.types';
import { connectionIdProblem, sealConnection } from './connection-record';
import type { ConnectionView, UnusableConnection } from './connection-view';
import { ANY_WORKSPACE } from './default-connection';
import { NoSealingKeyError, type ConnectionSealer } from './sealing';

/** What is written for a connection: the rest (revision, time) the store sets. */
export type ConnectionInput = Omit<Connection, 'revision' | 'updatedAt' | 'fromEnvironment' | 'status'> & {
  readonly status?: ConnectionStatus;
};

/** A change the topic's current state refuses (unknown id, a workspace already claimed, …): exit 1 in the CLI. */
export class ConnectionChangeError extends Error {
  readonly retriable = false;
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionChangeError';
  }
}

export interface ResealResult {
  /** Re-written under the sealing key. */
  readonly resealed: readonly string[];
  /** Already wholly under the sealing key. */
  readonly unchanged: readonly string[];
  /** Cannot be read (a key no longer listed, a damaged record): not re-written. */
  readonly unusable: readonly UnusableConnection[];
}

export interface ConnectionStoreOptions {
  readonly directory: ConnectionView;
  readonly producer: Producer;
  readonly codec: AvroCodec;
  readonly kafka: Kafka;
  readonly kafkaConfig: KafkaConfig;
  readonly sealer: ConnectionSealer | null;
  /** The prefixed name of pipeline.connections.v1. */
  readonly topic: string;
  readonly clock?: () => number;
}

/**
 * Writes connections (docs/CONNECTIONS.md): each change is a new record of
 * pipeline.connections.v1 keyed by the connection id, at the revision after the highest the
 * directory has read, its secrets sealed under the first key of CONNECTION_SECRET_KEYS, through
 * the process's producer (acks all). Each call resolves once the directory has read the record
 * back (a following list sees it).
 */
export class ConnectionStore {
  private prepared?: Promise<void>;

  constructor(private readonly o: ConnectionStoreOptions) {}

  /** Prepares the first write now (topic, schemas, producer): a later write is not held by it (the sink's rotated grants). */
  ready(): Promise<void> {
    return (this.prepared ??= this.prepare());
  }

  /** Add a connection, or replace the one of this id (new revision). */
  async put(input: ConnectionInput): Promise<Connection> {
    const problem = connectionIdProblem(input.id);
    if (problem) throw new ConnectionChangeError(problem);
    const appId = input.intercom.appId;
    if (appId === '' || appId === ANY_WORKSPACE)
      throw new ConnectionChangeError(`connection "${input.id}" needs its Intercom workspace id (app_id)`);
    const claimedBy = this.o.directory.byAppId(appId);
    if (claimedBy && claimedBy.id !== input.id && !claimedBy.fromEnvironment)
      throw new ConnectionChangeError(
        `Intercom workspace ${appId} is already claimed by connection "${claimedBy.id}" (one connection per workspace; remove that one first)`,
      );
    return this.write({ ...input, status: input.status ?? 'active' });
  }

  /** Webhooks are still accepted and stored; delivery waits. */
  pause(id: string): Promise<Connection> {
    return this.setStatus(id, 'paused');
  }

  resume(id: string): Promise<Connection> {
    return this.setStatus(id, 'active');
  }

  /**
   * The connection's OAuth grant cannot be refreshed for good (the sink, issue #23): its records
   * wait like a paused connection's until a new grant is put (status active).
   */
  needsReauth(id: string): Promise<Connection> {
    return this.setStatus(id, 'needs_reauth');
  }

  /** Routing stops; the connection's records stay replayable; its record stays (status removed) until compaction of a later tombstone. */
  remove(id: string): Promise<Connection> {
    return this.setStatus(id, 'removed');
  }

  /** Re-write every connection with a secret not sealed under the sealing key (after a key rotation). */
  async reseal(): Promise<ResealResult> {
    const sealer = this.requireSealer();
    const resealed: string[] = [];
    const unchanged: string[] = [];
    for (const c of this.o.directory.allWithRemoved()) {
      if (c.fromEnvironment) continue;
      if (this.o.directory.keyIdsOf(c.id).every((k) => k === sealer.sealingKeyId)) unchanged.push(c.id);
      else {
        await this.write(c);
        resealed.push(c.id);
      }
    }
    return { resealed, unchanged, unusable: this.o.directory.unusable() };
  }

  private async setStatus(id: string, status: ConnectionStatus): Promise<Connection> {
    const current = this.o.directory.allWithRemoved().find((c) => c.id === id && !c.fromEnvironment);
    if (!current) {
      const unusable = this.o.directory.unusable().find((u) => u.id === id);
      if (unusable) throw new ConnectionChangeError(`connection "${id}" cannot be read: ${unusable.reason}`);
      throw new ConnectionChangeError(
        id === 'default'
          ? 'the default connection comes from the environment: change its variables (CONNECTIONS_DEFAULT=off turns it off)'
          : `no connection "${id}"`,
      );
    }
    if (current.status === status) return current;
    if (current.status === 'removed')
      throw new ConnectionChangeError(`connection "${id}" was removed: add it again (cli connections add)`);
    return this.write({ ...current, status });
  }

  private requireSealer(): ConnectionSealer {
    if (!this.o.sealer) throw new NoSealingKeyError();
    return this.o.sealer;
  }

  private async write(input: ConnectionInput & { readonly status: ConnectionStatus }): Promise<Connection> {
    const sealer = this.requireSealer();
    await (this.prepared ??= this.prepare());
    const revision = (this.o.directory.revisionOf(input.id) ?? 0) + 1;
    const connection: Connection = {
      ...input,
      revision,
      updatedAt: (this.o.clock ?? Date.now)(),
      fromEnvironment: false,
    };
    const value = await this.o.codec.encodeAs(
      { key: 'connections', name: this.o.topic },
      sealConnection(connection, sealer),
    );
    await this.o.producer.send({ topic: this.o.topic, acks: -1, messages: [{ key: connection.id, value }] });
    await this.o.directory.whenRevision(connection.id, revision);
    return connection;
  }

  /** The topic exists, the schemas are registered (encoding needs their ids), the producer is connected. */
  private async prepare(): Promise<void> {
    const admin = this.o.kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, this.o.kafkaConfig);
    } finally {
      await admin.disconnect();
    }
    await this.o.codec.registerAll();
    await this.o.producer.connect();
  }
}
