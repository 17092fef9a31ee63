import type { Kafka } from 'kafkajs';
import type { Config } from '@iks/config';
import { ANY_WORKSPACE, DEFAULT_CONNECTION_ID } from '@iks/connections';
import { intercomClientFactory, type IntercomClientFactory } from '@iks/intercom';
import { AvroCodec, KAFKA, KafkaModule, topicName } from '@iks/kafka';
import { createContext } from '@iks/ops';
import { createNotificationWriter, type NotificationWriter } from '@iks/ingest';
import { connectionSink, NotificationWriterSink, type BackfillSink, type ProgressStream } from '@iks/backfill';
import { formatReport, ProducedIndex, reconcile, updateProducedIndex } from '@iks/reconciler';
import type { CliIo } from '../cli-io';
import { parseReconcileArgs, RECONCILE_USAGE, type ReconcileArgs } from './reconcile.args';
import { intercomConnection, type ConnectionLookup } from './connection-arg';

export interface ReconcileDeps extends ConnectionLookup {
  /** Makes the Intercom client of the connection (default: the one factory, at INTERCOM_VERSION). */
  readonly intercomClient?: IntercomClientFactory;
  readonly progress?: ProgressStream;
  /** Replaces the Kafka writer of --heal (tests). */
  readonly sink?: BackfillSink;
}

export async function runReconcileCommand(
  args: string[],
  config: Config,
  io: CliIo,
  deps: ReconcileDeps = {},
): Promise<number> {
  const parsed = parseReconcileArgs(args);
  if (!parsed.ok) {
    io.stderr(`reconcile: ${parsed.error}\nusage: reconcile ${RECONCILE_USAGE}`);
    return 2;
  }
  return runReconcile(parsed.value, config, io, deps);
}

/**
 * `reconcile` (issue #12): 1) bring the index of produced ids up to date, reading
 * klaviyo.events.v1 and klaviyo.profiles.v1 from the offsets stored with it to their current end;
 * 2) search Intercom for what changed since --since, GET each conversation / ticket with its parts
 * and derive the notifications the webhooks would have sent (libs/backfill rest-derivation);
 * 3) print expected / present / missing per metric; with --heal, write the missing ones to the raw
 * topic with source reconcile. With --connection, that connection's workspace (its token and
 * API host) is compared and what is healed carries its id and keys. Exit 0 when done (missing or
 * not: the table says), 2 on usage (and a --connection that is unknown, removed, paused or
 * without an Intercom access token).
 */
export async function runReconcile(
  a: ReconcileArgs,
  config: Config,
  io: CliIo,
  deps: ReconcileDeps = {},
): Promise<number> {
  const noToken = () => {
    io.stderr(
      'reconcile: INTERCOM_ACCESS_TOKEN is not set (an Intercom access token that can read contacts, conversations and tickets)',
    );
    return 2;
  };
  if (a.connection === null && !config.intercom.accessToken) return noToken();
  const resolved = await intercomConnection('reconcile', a.connection, config, io, deps);
  if (!resolved.ok) return resolved.code;
  const connection = resolved.connection;
  if (!connection.intercom.accessToken) return noToken();
  // The client's gate keeps within Intercom's rate limit (X-RateLimit-* headers, 429 waits).
  const client = (deps.intercomClient ?? intercomClientFactory({ version: config.intercom.version }))(connection);
  const known = connection.id !== DEFAULT_CONNECTION_ID && connection.intercom.appId !== ANY_WORKSPACE;
  if (known && a.appId !== null && a.appId !== connection.intercom.appId) {
    io.stderr(
      `reconcile: --app-id ${a.appId} is not the workspace of connection "${connection.id}" (${connection.intercom.appId}); omit --app-id`,
    );
    return 2;
  }
  let appId = known ? connection.intercom.appId : a.appId;
  if (!appId) {
    appId = (await client.me().catch(() => null))?.app?.id_code ?? null;
    if (!appId) {
      io.stderr('reconcile: pass --app-id <workspace id> (the app_id of your webhook notifications)');
      return 2;
    }
  }
  const progress = deps.progress ?? process.stderr;
  const say = (s: string) => progress.write(progress.isTTY ? `\r\x1b[2K${s}` : `${s}\n`);

  const eventsTopic = topicName('events', config.kafka.topicPrefix);
  const profilesTopic = topicName('profiles', config.kafka.topicPrefix);
  const index = ProducedIndex.open(a.indexDir, eventsTopic, profilesTopic);
  const before = index.size;
  const kafkaContext = await createContext(config, 'cli', KafkaModule);
  const read = await updateProducedIndex(index, {
    kafka: kafkaContext.get<Kafka>(KAFKA),
    codec: kafkaContext.get(AvroCodec),
    topicPrefix: config.kafka.topicPrefix,
  }).finally(() => kafkaContext.close());
  say(`reconcile: index ${index.path}: ${read} new produced record(s) read, ${index.size} event ids (was ${before})`);
  if (progress.isTTY) progress.write('\n');

  let writer: NotificationWriter | undefined;
  let sink = deps.sink;
  if (a.heal && !sink) {
    writer = await createNotificationWriter(config);
    await writer.start();
    sink = new NotificationWriterSink(writer);
  }
  try {
    // what is healed carries the connection and its keys, as the ingest writes its webhooks
    const healTo = connectionSink(sink ?? { write: async () => undefined }, connection.id);
    const report = await reconcile(client, index, healTo, {
      since: a.since,
      until: a.until,
      kinds: a.kinds,
      appId,
      connectionId: connection.id,
      heal: a.heal,
      onProgress: (p) =>
        say(`reconcile ${p.kind}: ${p.objects}${p.totalCount !== null ? `/${p.totalCount}` : ''} objects`),
    });
    if (progress.isTTY) progress.write('\n');
    index.save();
    io.stdout(
      `reconcile ${new Date(a.since * 1000).toISOString()} .. ${new Date(a.until * 1000).toISOString()}${a.heal ? ' (--heal)' : ''}${connection.id !== DEFAULT_CONNECTION_ID ? ` connection ${connection.id} (workspace ${appId})` : ''}`,
    );
    io.stdout(formatReport(report, a.heal));
    return 0;
  } finally {
    await writer?.stop();
  }
}
