import type { Kafka } from 'kafkajs';
import type { Config } from '@iks/config';
import { IntercomClient } from '@iks/intercom';
import { AvroCodec, KAFKA, KafkaModule, topicName } from '@iks/kafka';
import { createContext } from '@iks/ops';
import { createNotificationWriter, type NotificationWriter } from '@iks/ingest';
import { NotificationWriterSink, type BackfillSink, type ProgressStream } from '@iks/backfill';
import { formatReport, ProducedIndex, reconcile, updateProducedIndex } from '@iks/reconciler';
import type { CliIo } from '../cli-io';
import { parseReconcileArgs, RECONCILE_USAGE, type ReconcileArgs } from './reconcile.args';

export interface ReconcileDeps {
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
 * topic with source reconcile. Exit 0 when done (missing or not: the table says), 2 on usage.
 */
export async function runReconcile(
  a: ReconcileArgs,
  config: Config,
  io: CliIo,
  deps: ReconcileDeps = {},
): Promise<number> {
  const token = config.intercom.accessToken;
  if (!token) {
    io.stderr(
      'reconcile: INTERCOM_ACCESS_TOKEN is not set (an Intercom access token that can read contacts, conversations and tickets)',
    );
    return 2;
  }
  // The client's gate keeps within Intercom's rate limit (X-RateLimit-* headers, 429 waits).
  const client = new IntercomClient({
    accessToken: token,
    baseUrl: config.intercom.baseUrl,
    version: config.intercom.version,
  });
  let appId = a.appId;
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
    const report = await reconcile(client, index, sink ?? { write: async () => undefined }, {
      since: a.since,
      until: a.until,
      kinds: a.kinds,
      appId,
      heal: a.heal,
      onProgress: (p) =>
        say(`reconcile ${p.kind}: ${p.objects}${p.totalCount !== null ? `/${p.totalCount}` : ''} objects`),
    });
    if (progress.isTTY) progress.write('\n');
    index.save();
    io.stdout(
      `reconcile ${new Date(a.since * 1000).toISOString()} .. ${new Date(a.until * 1000).toISOString()}${a.heal ? ' (--heal)' : ''}`,
    );
    io.stdout(formatReport(report, a.heal));
    return 0;
  } finally {
    await writer?.stop();
  }
}
