import { hostname } from 'node:os';
import { Logger } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { Config } from '@iks/config';
import { connectionSink, NotificationWriterSink } from '@iks/backfill';
import { ANY_WORKSPACE, connectionKey, type Connection, type ConnectionDirectory } from '@iks/connections';
import { DEFAULT_CONNECTION_ID, type PipelineOutage } from '@iks/domain';
import type { IntercomClientFactory } from '@iks/intercom';
import { followTopic, reconcileReportToAvro, topicName, type AvroCodec, type ThrowAwayConsumer } from '@iks/kafka';
import type { NotificationWriter } from '@iks/ingest';
import { ContinuousReconciler } from './continuous-reconciler';
import { ProducedIndex } from './produced-index';
import { updateProducedIndex } from './produced-index.updater';

/**
 * What the reconciler works with (ReconcilerStageModule): the context's Kafka, producer and
 * codec, a raw-topic writer for healed notifications, the connections (every one with an
 * Intercom access token is reconciled) and the factory of their Intercom clients.
 */
export interface ReconcilerDeps {
  readonly kafka: Kafka;
  readonly producer: Producer;
  readonly codec: AvroCodec;
  readonly writer: NotificationWriter;
  readonly connections: ConnectionDirectory;
  readonly intercomClient: IntercomClientFactory;
}

/** A connection the reconciler has a loop for: not removed, and with an Intercom access token. */
export function reconcilable(c: Connection): boolean {
  return c.status !== 'removed' && c.intercom.accessToken !== null;
}

interface Loop {
  readonly reconciler: ContinuousReconciler;
  readonly revision: number;
}

/**
 * The reconciler app's work (the app, the tests and `npm start` run this class): one
 * ContinuousReconciler per connection with an Intercom access token (its workspace's API host
 * and token, its own windows, outage runs, readiness and metrics labelled by connection),
 * started and stopped as connections are added, changed and removed; the raw-topic writer for
 * healed notifications (tagged with their connection); one index of produced ids shared by the
 * loops; and a follower of pipeline.outages.v1 that hands each outage ingest reported to every
 * loop and tombstones it once every loop has reconciled it.
 */
export class ReconcilerRunner {
  private readonly logger = new Logger(ReconcilerRunner.name);
  private started = false;
  private outageConsumer: ThrowAwayConsumer | null = null;
  private readonly loops = new Map<string, Loop>();
  /** Outage markers not tombstoned yet, and the connections whose loops have not reconciled them. */
  private readonly outages = new Map<string, { outage: PipelineOutage; waiting: Set<string> }>();
  private refreshing: Promise<number> | null = null;
  private unsubscribe: (() => void) | null = null;
  private readonly stopping: Array<Promise<void>> = [];
  readonly index: ProducedIndex;
  /** Set by runnerClosingContext (createReconcilerRunner): closes the context once stopped. */
  afterStop?: () => Promise<void>;

  constructor(
    private readonly config: Config,
    readonly registry: Registry,
    private readonly deps: ReconcilerDeps,
  ) {
    this.index = ProducedIndex.open(
      config.reconciler.indexDir,
      topicName('events', config.kafka.topicPrefix),
      topicName('profiles', config.kafka.topicPrefix),
    );
  }

  async start(): Promise<void> {
    const c = this.config;
    const { kafka, codec, writer, connections } = this.deps;
    // creates the topics, registers the schemas (ids cached in the shared codec) and connects the shared producer
    await writer.start();
    this.started = true;
    const outagesTopic = topicName('outages', c.kafka.topicPrefix);
    for (const connection of connections.all()) this.sync(connection);
    this.unsubscribe = connections.onChange((current) => this.sync(current));
    this.outageConsumer = await followTopic(
      kafka,
      outagesTopic,
      `${c.kafka.topicPrefix}iks-reconciler-outages`,
      async (m) => {
        const key = m.key?.toString() ?? '';
        this.outage(key, m.value ? await codec.decodeAs('outages', m.value) : null);
      },
    );
    const r = c.reconciler;
    this.logger.log(
      `reconciling every ${r.intervalMs / 1000} s over the last ${r.windowMs / 1000} s (the newest ${r.settleMs / 1000} s left to the webhooks), ` +
        `and each outage ingest reports on ${outagesTopic}; reports on ${topicName('reconcileReports', c.kafka.topicPrefix)}; ` +
        `connections: ${this.describeLoops()}; index in ${this.index.path}`,
    );
    if (this.loops.size === 0)
      this.logger.warn(
        'no connection has an Intercom access token: nothing is reconciled until one is added (cli connections add)',
      );
  }

  /** The default connection's loop (the only one before connections). */
  get reconciler(): ContinuousReconciler {
    return this.reconcilerOf(DEFAULT_CONNECTION_ID);
  }

  /** A connection's loop. */
  reconcilerOf(connectionId: string): ContinuousReconciler {
    const loop = this.loops.get(connectionId);
    if (!loop) throw new Error(`ReconcilerRunner: no reconciler loop for connection "${connectionId}"`);
    return loop.reconciler;
  }

  /** The connections reconciled now. */
  connectionIds(): string[] {
    return [...this.loops.keys()].sort();
  }

  readiness() {
    if (!this.started) return { reconciler: { up: false, detail: { reason: 'starting' } } };
    const loops = [...this.loops.entries()].sort(([a], [b]) => a.localeCompare(b));
    if (loops.length === 1 && loops[0][0] === DEFAULT_CONNECTION_ID) return loops[0][1].reconciler.readiness();
    if (loops.length === 0)
      return {
        intercom: { up: true, detail: { reason: 'no connection with an Intercom access token: nothing to reconcile' } },
        kafka: { up: true, detail: {} },
        reconcile: { up: true, detail: { connections: {} } },
      };
    const each = loops.map(([id, l]) => [id, l.reconciler.readiness()] as const);
    const down = each.filter(([, r]) => !r.intercom.up);
    const kafkaDown = each.find(([, r]) => !r.kafka.up);
    return {
      // one workspace that cannot be read does not make the reconciler unready; all of them do
      intercom: {
        up: down.length < each.length,
        detail: {
          connections: Object.fromEntries(
            each.map(([id, r]) => [
              id,
              r.intercom.up ? 'ok' : String((r.intercom.detail as { reason?: string }).reason),
            ]),
          ),
        },
      },
      kafka: kafkaDown ? kafkaDown[1].kafka : { up: true, detail: {} },
      reconcile: {
        up: true,
        detail: { connections: Object.fromEntries(each.map(([id, r]) => [id, r.reconcile.detail])) },
      },
    };
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    await this.outageConsumer?.stop();
    const wasStarted = this.started;
    this.started = false;
    await Promise.all([...this.loops.values()].map((l) => l.reconciler.stop()));
    await Promise.all(this.stopping);
    this.loops.clear();
    // the writer drains, then disconnects the producer it shares with the reports
    if (wasStarted) await this.deps.writer.stop().catch(() => undefined);
    this.index.save();
    const after = this.afterStop;
    this.afterStop = undefined;
    await after?.();
  }

  /** Starts, restarts (a new revision: token, host or workspace may have changed) or stops a connection's loop. */
  private sync(connection: Connection): void {
    if (!this.started) return;
    const id = connection.id;
    const have = this.loops.get(id);
    const want = reconcilable(connection);
    if (have && (!want || have.revision !== connection.revision)) {
      this.loops.delete(id);
      this.stopping.push(have.reconciler.stop());
      have.reconciler.dropMetrics();
      if (!want) {
        this.logger.log(
          `connection "${id}" ${connection.status === 'removed' ? 'removed' : 'has no Intercom access token'}: its reconciler stops`,
        );
        for (const key of [...this.outages.keys()])
          void this.outageDone(id, key).catch((e) =>
            this.logger.warn(`outage ${key}: its marker was not tombstoned (${(e as Error).message})`),
          );
      }
    }
    if (!want || this.loops.has(id)) return;
    const reconciler = this.loopFor(connection);
    this.loops.set(id, { reconciler, revision: connection.revision });
    reconciler.start();
    for (const [key, o] of this.outages) {
      o.waiting.add(id);
      reconciler.outage(key, o.outage);
    }
    if (have) this.logger.log(`connection "${id}" changed (revision ${connection.revision}): its reconciler restarted`);
    else if (this.outageConsumer) this.logger.log(`connection "${id}" added: reconciling its workspace`);
  }

  private loopFor(connection: Connection): ContinuousReconciler {
    const c = this.config;
    const { producer, codec, writer, kafka } = this.deps;
    const id = connection.id;
    const r = c.reconciler;
    const reportsTopic = topicName('reconcileReports', c.kafka.topicPrefix);
    return new ContinuousReconciler(
      {
        intervalMs: r.intervalMs,
        windowMs: r.windowMs,
        settleMs: r.settleMs,
        outageMarginMs: r.outageMarginMs,
        appId: connection.intercom.appId === ANY_WORKSPACE ? null : connection.intercom.appId,
        connectionId: id,
      },
      {
        intercom: this.deps.intercomClient(connection),
        index: this.index,
        // healed notifications carry the connection and its keys, as the ingest writes its webhooks
        sink: connectionSink(new NotificationWriterSink(writer), id),
        refreshIndex: () => this.refreshIndex(kafka, codec),
        outageDone: async (key) => this.outageDone(id, key),
        publishReport: async (report) => {
          const value = await codec.encode(
            reportsTopic,
            reconcileReportToAvro({ ...report, reporter: `reconciler@${hostname()}` }),
          );
          await producer.send({
            topic: reportsTopic,
            acks: -1,
            messages: [{ key: connectionKey(id, `${report.trigger}:${report.since}`), value }],
          });
        },
        registry: this.registry,
      },
    );
  }

  /** One refresh of the shared index at a time: a loop that asks while one runs gets its result. */
  private refreshIndex(kafka: Kafka, codec: AvroCodec): Promise<number> {
    this.refreshing ??= updateProducedIndex(this.index, {
      kafka,
      codec,
      topicPrefix: this.config.kafka.topicPrefix,
    }).finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private outage(key: string, outage: PipelineOutage | null): void {
    if (outage) this.outages.set(key, { outage, waiting: new Set(this.loops.keys()) });
    else this.outages.delete(key);
    for (const l of this.loops.values()) l.reconciler.outage(key, outage);
  }

  /** A connection's loop reconciled the outage (or stopped): the marker is tombstoned once no loop waits for it. */
  private async outageDone(connectionId: string, key: string): Promise<void> {
    const o = this.outages.get(key);
    if (!o) return;
    o.waiting.delete(connectionId);
    if (o.waiting.size > 0) return;
    this.outages.delete(key);
    await this.deps.producer.send({
      topic: topicName('outages', this.config.kafka.topicPrefix),
      acks: -1,
      messages: [{ key, value: null }],
    });
  }

  private describeLoops(): string {
    if (this.loops.size === 0) return 'none';
    return [...this.loops.keys()]
      .sort()
      .map((id) => {
        const cn = this.deps.connections.get(id);
        return `${id} (Intercom at ${cn?.intercom.apiBaseUrl ?? '?'})`;
      })
      .join(', ');
  }
}
