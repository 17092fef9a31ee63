import type { Admin, Kafka, Producer } from 'kafkajs';
import type { Config } from '@iks/config';
import { ANY_WORKSPACE, connectionKey, withConnectionId, type Connection } from '@iks/connections';
import { connectionOf, contactIdsInText, entityKey, validateEnvelope, type RawNotification } from '@iks/domain';
import { openNotification, sealShared, type SubjectKeys } from '@iks/erasure';
import {
  readTopicRanges,
  sendInBoundedRequests,
  topic,
  topicName,
  type AvroCodec,
  type OffsetRange,
  type TopicMessage,
} from '@iks/kafka';

export interface ClaimDeps {
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly producer: Producer;
  readonly codec: AvroCodec;
}

/** What a claim found and did, for the CLI's lines and the console's answer. */
export interface ClaimPlan {
  readonly connectionId: string;
  readonly appId: string;
  readonly unclaimedTopic: string;
  readonly rawTopic: string;
  /** The consumer group that keeps how far this connection's claims have read the unclaimed topic. */
  readonly groupId: string;
  /** Records read from the unclaimed topic (every workspace's). */
  readonly read: number;
  /** Of those, this workspace's: what is copied. */
  readonly mine: number;
  /** Records that could not be decoded (left where they are, counted). */
  readonly undecodable: number;
  /**
   * Copy them and commit how far this claim read (at-least-once: a crash in between copies them
   * again, harmlessly). With the people's keys (started), each copy is sealed for the contacts its
   * body names, as the claiming connection (docs/ERASURE.md: a kept webhook had no connection, so
   * no subject, and was kept clear); without, copied as kept.
   */
  run(subjectKeys?: SubjectKeys): Promise<number>;
}

/** A claim that cannot start: no single workspace, removed, already running, no unclaimed topic. */
export class ClaimRefusedError extends Error {
  readonly retriable = false;
  constructor(message: string) {
    super(message);
    this.name = 'ClaimRefusedError';
  }
}

/** The consumer group of a connection's claims (its committed offsets say what was copied already). */
export function claimGroupId(connectionId: string): string {
  return `iks-connections-claim.${connectionId}`;
}

/**
 * `cli connections claim <id>` (and the console when a connection is added): the signed webhooks
 * of the connection's workspace that ingest kept in intercom.notifications.unclaimed.v1 while no
 * connection claimed it, copied into intercom.notifications.v1 with the connection's id (and its
 * key, `<connection id>/<entity key>`), from where the transformer maps them like any webhook.
 * Copying twice is harmless: the same notification maps to the same unique_ids, which the sink
 * and Klaviyo deduplicate; the claim group's offsets keep a second claim from copying the same
 * records again (`fromBeginning` considers every record again).
 */
export async function planClaim(
  deps: ClaimDeps,
  config: Config,
  connection: Connection,
  { fromBeginning = false }: { fromBeginning?: boolean } = {},
): Promise<ClaimPlan> {
  const { kafka, admin, producer, codec } = deps;
  const prefix = config.kafka.topicPrefix;
  const unclaimedTopic = topicName('notificationsUnclaimed', prefix);
  const raw = topic('notifications', prefix);
  const appId = connection.intercom.appId;
  if (connection.status === 'removed')
    throw new ClaimRefusedError(`connection ${connection.id} was removed: add it again before claiming its webhooks`);
  if (appId === ANY_WORKSPACE || appId === '') {
    throw new ClaimRefusedError(
      `connection ${connection.id} claims no single workspace (INTERCOM_APP_ID is unset): set INTERCOM_APP_ID, or claim with a connection that names its workspace`,
    );
  }
  if (!(await admin.listTopics()).includes(unclaimedTopic)) {
    throw new ClaimRefusedError(
      `topic ${unclaimedTopic} does not exist (TOPIC_PREFIX="${prefix}"): ingest creates it when it starts; nothing was ever kept unclaimed`,
    );
  }
  const groupId = claimGroupId(connection.id);
  const { groups } = await admin.describeGroups([groupId]);
  if (groups[0] && groups[0].members.length > 0) {
    throw new ClaimRefusedError(
      `another claim for connection ${connection.id} is running (group ${groupId} has ${groups[0].members.length} member(s))`,
    );
  }
  const marks = await admin.fetchTopicOffsets(unclaimedTopic);
  const committed = new Map<number, bigint>();
  for (const t of await admin.fetchOffsets({ groupId, topics: [unclaimedTopic] }))
    for (const p of t.partitions) committed.set(p.partition, BigInt(p.offset));
  const ranges: OffsetRange[] = marks.map((m) => {
    const low = BigInt(m.low);
    const c = committed.get(m.partition) ?? -1n;
    return { partition: m.partition, from: fromBeginning || c < low ? low : c, to: BigInt(m.high) };
  });

  let read = 0;
  let undecodable = 0;
  const mine: RawNotification[] = [];
  for (const { message } of await readTopicRanges(kafka, admin, unclaimedTopic, ranges)) {
    read++;
    try {
      const n = await codec.decodeAs('notificationsUnclaimed', message.value);
      if (n.app_id === appId) mine.push(n);
    } catch {
      undecodable++;
    }
  }

  return {
    connectionId: connection.id,
    appId,
    unclaimedTopic,
    rawTopic: raw.name,
    groupId,
    read,
    mine: mine.length,
    undecodable,
    run: async (subjectKeys?: SubjectKeys) => {
      const messages: TopicMessage[] = [];
      for (const n of mine) {
        // ingest sealed it for its contacts under the workspace (unclaimedSubject): opened, then
        // sealed again as the connection's; a person erased since is not copied. Without keys the
        // copy stays sealed for the workspace's subjects, which the transformer opens as well.
        const opened = subjectKeys ? await openNotification(subjectKeys, n) : n;
        if (!opened) continue;
        const record = withConnectionId(subjectKeys ? { ...opened, body_sealed: null } : opened, connection.id);
        const key = connectionKey(connection.id, keyOf(record));
        messages.push({ topic: raw.name, key, value: await codec.encodeAs(raw, await sealedFor(subjectKeys, record)) });
      }
      if (messages.length > 0) {
        await producer.connect();
        await sendInBoundedRequests(producer, messages);
      }
      // copied, then committed (at-least-once)
      await admin.setOffsets({
        groupId,
        topic: unclaimedTopic,
        partitions: ranges.map((r) => ({ partition: r.partition, offset: r.to.toString() })),
      });
      return messages.length;
    },
  };
}

/** `n` sealed for the contacts its body names, under its connection (as ingest writes it), given the keys. */
async function sealedFor(keys: SubjectKeys | undefined, n: RawNotification): Promise<RawNotification> {
  if (!keys || n.body_sealed) return n;
  const ids = contactIdsInText(n.body);
  if (ids.length === 0) return n;
  const connectionId = connectionOf(n);
  const body_sealed = await sealShared(
    keys,
    ids.map((contactId) => ({ connectionId, contactId })),
    Buffer.from(n.body, 'utf8'),
  );
  return { ...n, body: '', body_sealed };
}

/** The raw topic's key of a notification, as ingest gives it (its entity); a body that is no envelope keeps its notification id. */
function keyOf(n: RawNotification): string {
  try {
    const v = validateEnvelope(JSON.parse(n.body));
    if (v.ok) return entityKey(v.envelope);
  } catch {
    // ingest validated it before keeping it: not expected
  }
  return `notification:${n.notification_id}`;
}
