import { randomUUID } from 'node:crypto';
import type { Producer } from 'kafkajs';
import type { Config } from '@iks/config';
import {
  ANY_WORKSPACE,
  CONNECTIONS,
  connectionKey,
  withConnectionId,
  type ConnectionDirectory,
} from '@iks/connections';
import { entityKey, type IntercomEnvelope, type RawNotification } from '@iks/domain';
import { ErasureModule, sealShared, SubjectKeys } from '@iks/erasure';
import { AvroCodec, KAFKA, prepareStage, PRODUCER, topic } from '@iks/kafka';
import { createContext } from '@iks/ops';
import type { CliIo } from '../cli-io';
import { EXIT } from './command-args';
import { confirmOrExit, type Prompt } from './confirm';
import type { EraseArgs } from './erase.args';

export interface EraseDeps {
  /** The connections (default: the process's directory: pipeline.connections.v1 and the environment's default connection). */
  readonly connections?: ConnectionDirectory;
  readonly prompt?: Prompt;
  readonly now?: () => number;
}

/**
 * The operator's erasure request, shaped as Intercom's contact.deleted notification (its item a
 * deleted Contact with the identifiers given), so that it takes Intercom's own path: MAPPING.md's
 * contact.deleted (identifiers from the payload, else the directory). Without a contact id the
 * item gets an id of its own (`operator-<uuid>`): nothing in it links back to the person.
 */
export function erasureNotification(
  a: EraseArgs,
  appId: string,
  nowMs: number,
): { record: RawNotification; key: string; contactId: string } {
  const id = `operator-erase-${randomUUID()}`;
  const contactId = a.contactId ?? `operator-${randomUUID()}`;
  const createdAt = Math.floor(nowMs / 1000);
  const envelope: IntercomEnvelope & Record<string, unknown> = {
    type: 'notification_event',
    app_id: appId,
    id,
    topic: 'contact.deleted',
    created_at: createdAt,
    first_sent_at: createdAt,
    delivery_attempts: 1,
    data: {
      type: 'notification_event_data',
      item: {
        type: 'contact',
        id: contactId,
        ...(a.email ? { email: a.email } : {}),
        ...(a.phone ? { phone: a.phone } : {}),
      },
    },
  } as IntercomEnvelope & Record<string, unknown>;
  const record = withConnectionId<RawNotification>(
    {
      notification_id: id,
      topic: 'contact.deleted',
      app_id: appId,
      created_at: createdAt,
      delivery_attempts: 1,
      first_sent_at: createdAt,
      received_at: nowMs,
      source: 'operator',
      body: JSON.stringify(envelope),
    },
    a.connectionId,
  );
  return { record, key: connectionKey(a.connectionId, entityKey(envelope)), contactId };
}

/**
 * `erase`: writes the erasure request into the raw topic (acks all). Exit 0 once written, 2 for
 * an unknown or removed connection or without --yes off a terminal, 1 when it cannot be written.
 */
export async function runErase(a: EraseArgs, config: Config, io: CliIo, deps: EraseDeps = {}): Promise<number> {
  // ErasureModule brings ConnectionsModule (global): the connections, and the people's keys
  const app = await createContext(config, 'cli', ErasureModule);
  const producer = app.get<Producer>(PRODUCER);
  const keys = app.get(SubjectKeys);
  try {
    const connections = deps.connections ?? app.get<ConnectionDirectory>(CONNECTIONS);
    const connection = connections.get(a.connectionId);
    if (!connection || connection.status === 'removed') {
      const known = connections
        .all()
        .map((c) => c.id)
        .join(', ');
      io.stderr(
        `erase: ${connection ? `connection "${a.connectionId}" is removed` : `no connection "${a.connectionId}"`} (known: ${known || 'none'})`,
      );
      return EXIT.usage;
    }
    const appId = connection.intercom.appId === ANY_WORKSPACE ? '' : connection.intercom.appId;
    const { record, key, contactId } = erasureNotification(a, appId, (deps.now ?? Date.now)());
    const rawTopic = topic('notifications', config.kafka.topicPrefix);
    const who = a.contactId
      ? `contact ${a.contactId}`
      : a.email
        ? 'the person with that email'
        : 'the person with that phone';
    io.stdout(
      `plan: erase ${who} of connection ${a.connectionId}: a contact.deleted (source operator, notification ${record.notification_id}) into ${rawTopic.name}`,
    );
    if (!a.contactId)
      io.stdout(
        'note: without --contact-id the directory cannot tombstone her contact (it is known by id); Klaviyo deletes the profile by the identifier given',
      );
    const stop = await confirmOrExit('erase', a.yes, io, deps.prompt);
    if (stop !== null) return stop;
    const codec = app.get(AvroCodec);
    await prepareStage(app.get(KAFKA), config.kafka, codec, producer);
    await keys.start();
    // sealed for her, as ingest seals Intercom's contact.deleted (docs/ERASURE.md): once the sink
    // has erased her keys, the request itself no longer names her to anyone
    const body_sealed = await sealShared(
      keys,
      [{ connectionId: a.connectionId, contactId }],
      Buffer.from(record.body, 'utf8'),
    );
    await producer.send({
      topic: rawTopic.name,
      acks: -1,
      messages: [{ key, value: await codec.encodeAs(rawTopic, { ...record, body: '', body_sealed }) }],
    });
    io.stdout(
      `erase: written (contact ${contactId}); the transformer writes the deletion request, the sink asks Klaviyo to delete the profile and skips her later records (see the console's person page, or cli dlq list if it cannot)`,
    );
    return EXIT.ok;
  } finally {
    await keys.stop().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await app.close();
  }
}
