import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { ConnectionSealer } from '@iks/connections';
import { followTopic, topicOffsets, type AvroCodec, type Topic, type ThrowAwayConsumer } from '@iks/kafka';
import { sleep } from '@iks/retry';
import { nextIv } from './iv-pool';

const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** First byte of a sealed personal field: the format's version. */
const FORMAT = 1;
/** The key id a field of an erased subject is sealed under: a throw-away key, never stored. */
export const ERASED_KEY_ID = 'erased';

/**
 * A field sealed under a key id that pipeline.subject-keys.v1 does not hold, read to its end,
 * while the subject has no erasure marker: the key record was never written or the topic lost
 * it. Not an erasure (the person was not deleted): the record's fault, a dead letter.
 */
export class SubjectKeyMissingError extends Error {
  readonly retriable = false;
  constructor(
    readonly subject: string,
    readonly keyId: string,
  ) {
    super(
      `the key ${keyId} of ${subject} is not in the subject keys topic (read to its end) and ${subject} has no erasure marker: the sealed field cannot be opened`,
    );
    this.name = 'SubjectKeyMissingError';
  }
}

/** The subject keys topic could not be read to its end in time: the stage cannot work now (retried). */
export class SubjectKeysBehindError extends Error {
  readonly retriable = true;
  constructor(message: string) {
    super(message);
    this.name = 'SubjectKeysBehindError';
  }
}

/** The key id a sealed field names (null when it is not a sealed field). */
function sealedKeyId(sealed: Buffer): string | null {
  if (sealed.length < 2 || sealed[0] !== FORMAT || sealed.length < 2 + sealed[1]) return null;
  return sealed.subarray(2, 2 + sealed[1]).toString('utf8');
}

/** A person of one connection: the Intercom contact id under its connection. */
export interface Subject {
  readonly connectionId: string;
  readonly contactId: string;
}

export const subjectId = (s: Subject): string => `${s.connectionId}/${s.contactId}`;
const recordKeyOf = (s: Subject, keyId: string): string => `${subjectId(s)}#${keyId}`;

/** `[1][key id length][key id][iv][tag][ciphertext]`, AES-256-GCM with the subject id as additional data. */
function sealWith(id: string, keyId: string, key: Buffer, clear: Buffer): Buffer {
  const iv = nextIv();
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(id, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(clear), cipher.final()]);
  const kid = Buffer.from(keyId, 'utf8');
  return Buffer.concat([Buffer.from([FORMAT, kid.length]), kid, iv, cipher.getAuthTag(), ciphertext]);
}

/** A field that cannot be opened because its subject was erased (or its key is gone): not an error to retry. */
export class ErasedSubjectError extends Error {
  readonly retriable = false;
  constructor(readonly subject: string) {
    super(`the personal data of ${subject} is erased (its key is destroyed)`);
    this.name = 'ErasedSubjectError';
  }
}

/** What `opening` gives, or null when it fails because its subject is erased (any other error is thrown). */
export async function unlessErased<T>(opening: Promise<T>): Promise<T | null> {
  try {
    return await opening;
  } catch (e) {
    if (e instanceof ErasedSubjectError) return null;
    throw e;
  }
}

/**
 * People's data keys (docs/ERASURE.md, crypto-shredding): each subject's personal fields are
 * sealed (AES-256-GCM, additional data the subject id) under a random key of that subject, kept
 * in the compacted topic pipeline.subject-keys.v1, the key itself sealed under the deployment's
 * key ring. Erasing the subject tombstones its keys and writes a marker: every copy of every
 * record sealed under them, in every topic, replica and backup, no longer opens.
 *
 * No coordination to make a key: a writer without one for the subject makes one, writes it
 * (acks all) before it returns, and uses it; another replica may do the same at once, so a
 * subject can have a few keys, each with its own id, all valid. A key that appears after the
 * subject's marker (a writer that had not seen it) is tombstoned by the follower that sees both.
 */
export class SubjectKeys {
  private readonly logger = new Logger(SubjectKeys.name);
  private readonly keys = new Map<string, Map<string, Buffer>>();
  private readonly erased = new Map<string, number>();
  /** Keys this process is writing, by subject: a second seal of the same subject waits for the first's key. */
  private readonly making = new Map<string, Promise<{ keyId: string; key: Buffer }>>();
  private follower?: ThrowAwayConsumer;
  private partitions = 1;
  /** The next offset the follower will apply, per partition: how far this process has read the topic. */
  private readonly applied = new Map<number, bigint>();
  private destroyedCount = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly codec: AvroCodec,
    private readonly producer: Producer,
    /** The key ring the keys are sealed under; null: no CONNECTION_SECRET_KEYS, keys stored unsealed (docs/ERASURE.md). */
    private readonly sealer: ConnectionSealer | null,
    private readonly topic: Topic<'subjectKeys'>,
    private readonly groupPrefix: string,
    private readonly now: () => number = Date.now,
  ) {}

  private starting?: Promise<void>;

  /** Reads the topic from the beginning; resolves once caught up, then keeps following (once: a second call waits for the first). */
  start(): Promise<void> {
    this.starting ??= this.follow();
    return this.starting;
  }

  private async follow(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [this.topic.name] });
      this.partitions = Math.max(1, topics[0]?.partitions.length ?? 1);
    } finally {
      await admin.disconnect();
    }
    if (!this.sealer)
      this.logger.warn(
        `CONNECTION_SECRET_KEYS is not set: people's data keys are stored unsealed in ${this.topic.name} (erasure still destroys them; set a key ring to seal them, docs/ERASURE.md)`,
      );
    this.follower = await followTopic(this.kafka, this.topic.name, this.groupPrefix, async (m, partition) => {
      await this.apply(m);
      this.applied.set(partition, BigInt(m.offset) + 1n);
    });
  }

  /** Stops following the topic; the keys known stay usable (a writer cut off from the topic, in tests). */
  async stopFollowing(): Promise<void> {
    await this.follower?.stop();
    this.follower = undefined;
  }

  async stop(): Promise<void> {
    await this.starting?.catch(() => undefined);
    await this.stopFollowing();
    for (const ks of this.keys.values()) for (const k of ks.values()) k.fill(0);
    this.keys.clear();
    this.destroyedCount++;
  }

  isErased(s: Subject): boolean {
    return this.erased.has(subjectId(s));
  }

  /**
   * Goes up each time a key held here is destroyed (an erasure, a late key tombstoned, stop):
   * what was opened with the keys of before (shared-seal's record keys) is forgotten then.
   */
  get destroyed(): number {
    return this.destroyedCount;
  }

  /** How many keys of `s` this process holds (a test and the console's person page ask). */
  keyCount(s: Subject): number {
    return this.keys.get(subjectId(s))?.size ?? 0;
  }

  /**
   * `clear` sealed for `s`: `[1][key id length][key id][iv][tag][ciphertext]`. A subject already
   * erased gets a throw-away key (the field is unreadable from the start, nothing is stored).
   */
  async seal(s: Subject, clear: Buffer): Promise<Buffer> {
    const id = subjectId(s);
    const { keyId, key } = this.erased.has(id)
      ? { keyId: ERASED_KEY_ID, key: randomBytes(KEY_BYTES) }
      : await this.keyFor(s);
    return sealWith(id, keyId, key, clear);
  }

  /**
   * `clear` sealed for `s` at once, under a key this process already holds (a store that seals
   * what it keeps on disk, synchronously: the directory's); an erased subject's under a throw-away
   * key. null when no key of `s` is held here (nothing is made: seal() makes one).
   */
  sealKnown(s: Subject, clear: Buffer): Buffer | null {
    const id = subjectId(s);
    if (this.erased.has(id)) return sealWith(id, ERASED_KEY_ID, randomBytes(KEY_BYTES), clear);
    const known = this.keys.get(id);
    if (!known || known.size === 0) return null;
    const [keyId, key] = known.entries().next().value as [string, Buffer];
    return sealWith(id, keyId, key, clear);
  }

  /** The clear bytes of a field sealed for `s`; ErasedSubjectError when its key is destroyed (or never was stored). */
  unseal(s: Subject, sealed: Buffer): Buffer {
    const id = subjectId(s);
    if (sealed.length < 2 || sealed[0] !== FORMAT) throw new Error(`not a sealed personal field of ${id}`);
    const kidEnd = 2 + sealed[1];
    const keyId = sealed.subarray(2, kidEnd).toString('utf8');
    const key = this.keys.get(id)?.get(keyId);
    if (!key) throw new ErasedSubjectError(id);
    const iv = sealed.subarray(kidEnd, kidEnd + IV_BYTES);
    const tag = sealed.subarray(kidEnd + IV_BYTES, kidEnd + IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(id, 'utf8'));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(sealed.subarray(kidEnd + IV_BYTES + TAG_BYTES)), decipher.final()]);
    } catch {
      throw new Error(`a sealed personal field of ${id} does not open under its key ${keyId}: altered`);
    }
  }

  /**
   * As `unseal`, for a field another process may have sealed a moment ago (ingest makes a key,
   * writes it, then the record that uses it; this process's follower may not have read the key
   * yet): a key id not known here, of a subject with no erasure marker, sends the follower to the
   * topic's end offsets of now before the field is judged. Then ErasedSubjectError (the marker
   * came, or the key is the throw-away one of an erased subject), SubjectKeyMissingError (no key,
   * no marker), or SubjectKeysBehindError (the topic could not be read to its end in time: retry).
   */
  async open(s: Subject, sealed: Buffer, timeoutMs = 30_000): Promise<Buffer> {
    try {
      return this.unseal(s, sealed);
    } catch (e) {
      const keyId = sealedKeyId(sealed);
      if (!(e instanceof ErasedSubjectError) || this.isErased(s) || keyId === ERASED_KEY_ID || !this.follower) throw e;
    }
    await this.readToEnd(timeoutMs);
    try {
      return this.unseal(s, sealed);
    } catch (e) {
      if (e instanceof ErasedSubjectError && !this.isErased(s))
        throw new SubjectKeyMissingError(subjectId(s), sealedKeyId(sealed) ?? '?');
      throw e;
    }
  }

  /**
   * Resolves once the follower has applied every record the topic holds now (its end offsets,
   * asked of the broker after the call). Not shared between callers: an answer asked before a
   * caller's key was written would not prove it absent.
   */
  private async readToEnd(timeoutMs: number): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    const ends = await topicOffsets(admin, this.topic.name).finally(() => admin.disconnect());
    const deadline = Date.now() + timeoutMs;
    const behind = () =>
      ends.filter((e) => BigInt(e.high) > BigInt(e.low) && (this.applied.get(e.partition) ?? 0n) < BigInt(e.high));
    while (behind().length > 0) {
      if (Date.now() >= deadline)
        throw new SubjectKeysBehindError(
          `${this.topic.name} not read to its end within ${timeoutMs} ms (partitions ${behind()
            .map((e) => e.partition)
            .join(', ')} behind)`,
        );
      await sleep(20);
    }
  }

  /**
   * Erases `subjects`: a tombstone for each of their keys this process knows and a marker each,
   * written in one request (acks all) before it returns. Returns how many keys were destroyed. A key another writer
   * makes after this is tombstoned when a follower sees it after the marker.
   */
  async erase(...subjects: Subject[]): Promise<number> {
    const messages: Array<{ key: string; value: Buffer | null; partition: number }> = [];
    let destroyed = 0;
    for (const s of subjects) {
      const id = subjectId(s);
      const kids = [...(this.keys.get(id)?.keys() ?? [])];
      destroyed += kids.length;
      const marker = await this.codec.encodeAs(this.topic, {
        connectionId: s.connectionId,
        contactId: s.contactId,
        kind: 'erased',
        keyId: null,
        sealedKey: null,
        plainKey: null,
        at: this.now(),
      });
      const partition = this.partitionOf(id);
      messages.push(...kids.map((kid) => ({ key: recordKeyOf(s, kid), value: null, partition })));
      messages.push({ key: `${id}#erased`, value: marker, partition });
    }
    // one request for every subject (a person and her unclaimed-workspace subject: the sink's deletion)
    await this.producer.send({ topic: this.topic.name, acks: -1, messages });
    for (const s of subjects) {
      const id = subjectId(s);
      this.forget(id);
      this.erased.set(id, this.now());
    }
    return destroyed;
  }

  private async keyFor(s: Subject): Promise<{ keyId: string; key: Buffer }> {
    const id = subjectId(s);
    const known = this.keys.get(id);
    if (known && known.size > 0) {
      const [keyId, key] = known.entries().next().value as [string, Buffer];
      return { keyId, key };
    }
    const inFlight = this.making.get(id);
    if (inFlight) return inFlight;
    const made = this.makeKey(s).finally(() => this.making.delete(id));
    this.making.set(id, made);
    return made;
  }

  private async makeKey(s: Subject): Promise<{ keyId: string; key: Buffer }> {
    const keyId = randomBytes(8).toString('hex');
    const key = randomBytes(KEY_BYTES);
    const value = await this.codec.encodeAs(this.topic, {
      connectionId: s.connectionId,
      contactId: s.contactId,
      kind: 'key',
      keyId,
      sealedKey: this.sealer ? this.sealer.sealBytes(Buffer.from(recordKeyOf(s, keyId), 'utf8'), key) : null,
      plainKey: this.sealer ? null : key,
      at: this.now(),
    });
    await this.producer.send({
      topic: this.topic.name,
      acks: -1,
      messages: [{ key: recordKeyOf(s, keyId), value, partition: this.partitionOf(subjectId(s)) }],
    });
    this.remember(subjectId(s), keyId, key);
    return { keyId, key };
  }

  private async apply(message: KafkaMessage): Promise<void> {
    const recordKey = message.key?.toString('utf8') ?? '';
    const hash = recordKey.lastIndexOf('#');
    if (hash < 0) return;
    const id = recordKey.slice(0, hash);
    const kid = recordKey.slice(hash + 1);
    if (message.value === null) {
      // a destroyed key
      this.destroyedCount++;
      const ks = this.keys.get(id);
      ks?.get(kid)?.fill(0);
      ks?.delete(kid);
      if (ks?.size === 0) this.keys.delete(id);
      return;
    }
    const r = await this.codec.decodeAs('subjectKeys', message.value);
    const subject = { connectionId: r.connectionId, contactId: r.contactId };
    if (r.kind === 'erased') {
      // The eraser's tombstones come before its marker (one partition per subject): a key still
      // known here was made by a writer the eraser had not heard of yet. Destroyed now (by every
      // follower that sees it: a tombstone twice is harmless).
      await this.destroy(id, [...(this.keys.get(id)?.keys() ?? [])]);
      this.forget(id);
      this.erased.set(id, r.at);
      return;
    }
    if (this.erased.has(id)) {
      // made by a writer that had not seen the marker yet: destroyed now
      await this.destroy(id, [kid]);
      return;
    }
    if (!r.keyId) return;
    if (r.plainKey && r.plainKey.length === KEY_BYTES) {
      // written by a deployment without a key ring
      this.remember(id, r.keyId, Buffer.from(r.plainKey));
      return;
    }
    if (!r.sealedKey) return;
    try {
      if (!this.sealer) throw new Error('it is sealed under a key ring and CONNECTION_SECRET_KEYS is not set here');
      this.remember(
        id,
        r.keyId,
        this.sealer.unsealBytes(Buffer.from(recordKey, 'utf8'), r.sealedKey, `the key of ${subjectId(subject)}`),
      );
    } catch (e) {
      this.logger.error(`a data key of ${id} does not open (${(e as Error).message}); its fields stay unreadable`);
    }
  }

  /** Every record of one subject goes to one partition: its marker is read after its keys. */
  private partitionOf(id: string): number {
    return createHash('sha256').update(id).digest().readUInt32BE(0) % this.partitions;
  }

  private async destroy(id: string, kids: readonly string[]): Promise<void> {
    if (kids.length === 0) return;
    const partition = this.partitionOf(id);
    await this.producer
      .send({
        topic: this.topic.name,
        acks: -1,
        messages: kids.map((kid) => ({ key: `${id}#${kid}`, value: null, partition })),
      })
      .catch((e: Error) => this.logger.warn(`cannot destroy ${kids.length} late key(s) of ${id} now: ${e.message}`));
  }

  private remember(id: string, keyId: string, key: Buffer): void {
    const ks = this.keys.get(id) ?? new Map<string, Buffer>();
    ks.set(keyId, key);
    this.keys.set(id, ks);
  }

  private forget(id: string): void {
    this.destroyedCount++;
    for (const k of this.keys.get(id)?.values() ?? []) k.fill(0);
    this.keys.delete(id);
  }
}
