import { Module } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Producer } from 'kafkajs';
import type { Config } from '@iks/config';
import {
  ANY_WORKSPACE,
  CONNECTIONS,
  ConnectionsModule,
  connectionKey,
  withConnectionId,
  type ConnectionDirectory,
} from '@iks/connections';
import { entityKey, type IntercomEnvelope, type RawNotification } from '@iks/domain';
import { ErasureModule, sealShared, SubjectKeys } from '@iks/erasure';
import { AvroCodec, KAFKA, prepareStage, PRODUCER, topic } from '@iks/kafka';
import { intercomClientFactory, type IntercomClientFactory } from '@iks/intercom';
import { createContext } from '@iks/ops';
import type { CliIo } from '../cli-io';
import { EXIT } from './command-args';
import { confirmOrExit, type Prompt } from './confirm';
import type { EraseArgs } from './erase.args';

/** What `erase` works with: the connections and the people's keys. */
@Module({ imports: [ConnectionsModule, ErasureModule] })
class EraseContextModule {}

export interface EraseDeps {
  /** Makes the Intercom client that finds the contact ids of --email / --phone (default: the one factory). */
  readonly intercomClient?: IntercomClientFactory;
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
  // the connections, and the people's keys
  const app = await createContext(config, 'cli', EraseContextModule);
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
    const rawTopic = topic('notifications', config.kafka.topicPrefix);
    // her records are sealed under her Intercom contact id: an email or a phone is looked up in
    // the workspace first (POST /contacts/search), so that her keys are the ones destroyed
    const found = a.contactId ? [a.contactId] : await contactIdsOf(a, connection, io, deps.intercomClient, config);
    const requests = (found.length > 0 ? found : [null]).map((id) =>
      erasureNotification({ ...a, contactId: id }, appId, (deps.now ?? Date.now)()),
    );
    const who = a.contactId
      ? `contact ${a.contactId}`
      : found.length > 0
        ? `contact${found.length > 1 ? 's' : ''} ${found.join(', ')} (Intercom's for that ${a.email ? 'email' : 'phone'})`
        : a.email
          ? 'the person with that email'
          : 'the person with that phone';
    io.stdout(
      `plan: erase ${who} of connection ${a.connectionId}: ${requests.length} contact.deleted (source operator, ${requests.map((r) => r.record.notification_id).join(', ')}) into ${rawTopic.name}`,
    );
    if (found.length === 0)
      io.stdout(
        'note: no contact id for her: Klaviyo deletes the profile by the identifier given, but the directory cannot tombstone her contact and what the pipeline sealed under her contact id is not shredded by this request; give --contact-id if you know it',
      );
    const stop = await confirmOrExit('erase', a.yes, io, deps.prompt);
    if (stop !== null) return stop;
    const codec = app.get(AvroCodec);
    await prepareStage(app.get(KAFKA), config.kafka, codec, producer);
    await keys.start();
    const messages = [];
    for (const { record, key, contactId } of requests) {
      // sealed for her, as ingest seals Intercom's contact.deleted (docs/ERASURE.md): once the sink
      // has erased her keys, the request itself no longer names her to anyone
      const body_sealed = await sealShared(
        keys,
        [{ connectionId: a.connectionId, contactId }],
        Buffer.from(record.body, 'utf8'),
      );
      messages.push({ key, value: await codec.encodeAs(rawTopic, { ...record, body: '', body_sealed }) });
    }
    await producer.send({ topic: rawTopic.name, acks: -1, messages });
    io.stdout(
      `erase: written (contact ${requests.map((r) => r.contactId).join(', ')}); the transformer writes the deletion request, the sink asks Klaviyo to delete the profile, destroys her keys and skips her later records (see the console's person page, or cli dlq list if it cannot)`,
    );
    return EXIT.ok;
  } finally {
    await keys.stop().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await app.close();
  }
}

/**
 * The Intercom contact ids of the email or phone given (POST /contacts/search, `=`; every page).
 * None when the workspace has none (Intercom deleted her already) or cannot be asked (no access
 * token, unreachable): said on stderr, and the request goes out with the identifier alone.
 */
async function contactIdsOf(
  a: EraseArgs,
  connection: Parameters<IntercomClientFactory>[0],
  io: CliIo,
  factory: IntercomClientFactory | undefined,
  config: Config,
): Promise<string[]> {
  const query = a.email
    ? { field: 'email', operator: '=', value: a.email }
    : { field: 'phone', operator: '=', value: a.phone };
  try {
    const client = (factory ?? intercomClientFactory({ version: config.intercom.version }))(connection);
    const ids: string[] = [];
    let startingAfter: string | undefined;
    do {
      const page = await client.searchContacts(query, { perPage: 150, startingAfter });
      ids.push(...page.items.map((c) => c.id));
      startingAfter = page.next;
    } while (startingAfter);
    if (ids.length === 0) io.stderr(`erase: Intercom has no contact with that ${a.email ? 'email' : 'phone'}`);
    return [...new Set(ids)];
  } catch (e) {
    io.stderr(`erase: could not look her contact id up in Intercom (${(e as Error).message})`);
    return [];
  }
}
