import type { Config } from '@iks/config';
import { ANY_WORKSPACE, DEFAULT_CONNECTION_ID } from '@iks/connections';
import { intercomClientFactory, type IntercomClientFactory } from '@iks/intercom';
import { topicName } from '@iks/kafka';
import { createNotificationWriter, type NotificationWriter } from '@iks/ingest';
import {
  CheckpointStore,
  BackfillProgress,
  type ProgressStream,
  BackfillRunner,
  type BackfillSink,
  connectionSink,
  NotificationWriterSink,
} from '@iks/backfill';
import type { CliIo } from '../cli-io';
import { BACKFILL_USAGE, parseBackfillArgs, type BackfillArgs } from './backfill.args';
import { intercomConnection, type ConnectionLookup } from './connection-arg';

export interface BackfillDeps extends ConnectionLookup {
  /** Makes the Intercom client of the connection (default: the one factory, at INTERCOM_VERSION). */
  readonly intercomClient?: IntercomClientFactory;
  /** Where progress goes (default process.stderr). */
  readonly progress?: ProgressStream;
  /** SIGINT subscription (default process); returns the unsubscribe. */
  readonly onInterrupt?: (handler: () => void) => () => void;
  /** Replaces the Kafka writer (tests). */
  readonly sink?: BackfillSink;
}

const processInterrupt = (handler: () => void) => {
  process.on('SIGINT', handler);
  return () => void process.off('SIGINT', handler);
};

/**
 * `backfill`: history from Intercom's REST search into intercom.notifications.v1 (see
 * libs/backfill). Exit 0 when done, 130 when interrupted (the checkpoint holds the
 * last acknowledged page; run the same command to resume), 2 on bad arguments or a missing
 * INTERCOM_ACCESS_TOKEN, or a --connection that is unknown, removed, paused or without an
 * Intercom access token, 1 on other failures (resumable too). With --connection, that
 * connection's workspace is read and its records are written as the ingest writes its webhooks.
 */
export async function runBackfillCommand(
  args: string[],
  config: Config,
  io: CliIo,
  deps: BackfillDeps = {},
): Promise<number> {
  const parsed = parseBackfillArgs(args);
  if (!parsed.ok) {
    io.stderr(`backfill: ${parsed.error}\nusage: backfill ${BACKFILL_USAGE}`);
    return 2;
  }
  return runBackfill(parsed.value, config, io, deps);
}

/** `backfill` with its arguments checked (main.ts parses them with the same declaration). */
export async function runBackfill(
  a: BackfillArgs,
  config: Config,
  io: CliIo,
  deps: BackfillDeps = {},
): Promise<number> {
  if (a.connection === null && !config.intercom.accessToken) {
    io.stderr(
      'backfill: INTERCOM_ACCESS_TOKEN is not set (an Intercom access token that can read contacts, conversations and tickets)',
    );
    return 2;
  }
  const resolved = await intercomConnection('backfill', a.connection, config, io, deps);
  if (!resolved.ok) return resolved.code;
  const connection = resolved.connection;
  if (!connection.intercom.accessToken) {
    io.stderr(
      'backfill: INTERCOM_ACCESS_TOKEN is not set (an Intercom access token that can read contacts, conversations and tickets)',
    );
    return 2;
  }
  const client = (deps.intercomClient ?? intercomClientFactory({ version: config.intercom.version }))(connection);

  // an added connection knows its workspace; the default one claims INTERCOM_APP_ID or any (then GET /me)
  const known = connection.id !== DEFAULT_CONNECTION_ID && connection.intercom.appId !== ANY_WORKSPACE;
  if (known && a.appId !== null && a.appId !== connection.intercom.appId) {
    io.stderr(
      `backfill: --app-id ${a.appId} is not the workspace of connection "${connection.id}" (${connection.intercom.appId}); omit --app-id`,
    );
    return 2;
  }
  let appId = known ? connection.intercom.appId : a.appId;
  if (!appId) {
    try {
      const me = await client.me();
      appId = me.app?.id_code ?? null;
    } catch (e) {
      io.stderr(`backfill: cannot read the workspace id from GET /me (${(e as Error).message})`);
    }
    if (!appId) {
      io.stderr('backfill: pass --app-id <workspace id> (the app_id of your webhook notifications)');
      return 2;
    }
  }

  const topic = topicName('notifications', config.kafka.topicPrefix);
  const store = new CheckpointStore(a.checkpointDir, {
    since: a.since,
    until: a.until,
    topic,
    baseUrl: connection.intercom.apiBaseUrl,
    connectionId: connection.id,
  });
  let writer: NotificationWriter | undefined;
  let sink = deps.sink;
  if (!sink) {
    writer = await createNotificationWriter(config);
    await writer.start();
    sink = new NotificationWriterSink(writer);
  }
  // records of an added connection carry its id and `<connection id>/<key>` keys, as the ingest writes its webhooks
  sink = connectionSink(sink, connection.id);
  if (connection.id !== DEFAULT_CONNECTION_ID)
    io.stderr(
      `backfill: connection "${connection.id}": workspace ${appId} at ${connection.intercom.apiBaseUrl}; records keyed ${connection.id}/<key>`,
    );

  const stop = new AbortController();
  let interrupts = 0;
  const unsubscribe = (deps.onInterrupt ?? processInterrupt)(() => {
    interrupts++;
    if (interrupts === 1) {
      io.stderr(
        '\nbackfill: interrupted; finishing the page in flight and saving the checkpoint (Ctrl-C again to quit now)',
      );
      stop.abort();
    } else {
      // The checkpoint on disk is the last acknowledged page: quitting now loses nothing.
      process.exit(130);
    }
  });
  const progress = new BackfillProgress(deps.progress ?? process.stderr);
  try {
    const result = await new BackfillRunner(client, sink, store).run({
      since: a.since,
      until: a.until,
      kinds: a.kinds,
      appId,
      perPage: a.perPage,
      restart: a.restart,
      stop: stop.signal,
      onPage: (e) => progress.page(e),
    });
    progress.finish();
    io.stdout(progress.summary(result));
    if (result.outcome === 'interrupted') {
      io.stderr(`backfill: stopped; run the same command again to resume (checkpoint ${result.checkpointPath})`);
      return 130;
    }
    if (result.resumed && result.pages === 0)
      io.stderr('backfill: this window was already complete; --restart runs it again');
    return 0;
  } finally {
    unsubscribe();
    await writer?.stop();
  }
}
