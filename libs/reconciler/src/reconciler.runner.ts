import { hostname } from 'node:os';
import { Logger } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { Config } from '@iks/config';
import { NotificationWriterSink } from '@iks/backfill';
import { IntercomClient } from '@iks/intercom';
import { followTopic, reconcileReportToAvro, topicName, type AvroCodec, type ThrowAwayConsumer } from '@iks/kafka';
import type { NotificationWriter } from '@iks/ingest';
import { ContinuousReconciler } from './continuous-reconciler';
import { ProducedIndex } from './produced-index';
import { updateProducedIndex } from './produced-index.updater';

/** What the reconciler works with (ReconcilerStageModule): the context's Kafka, producer and codec, and a raw-topic writer for healed notifications. */
export interface ReconcilerDeps {
  readonly kafka: Kafka;
  readonly producer: Producer;
  readonly codec: AvroCodec;
  readonly writer: NotificationWriter;
}

/**
 * The reconciler app's work (the app, the tests and `npm start` run this class):
 * the raw-topic writer for healed notifications, the index of produced ids, the Intercom client,
 * and a follower of pipeline.outages.v1 that hands each outage ingest reported to the
 * ContinuousReconciler and tombstones it once reconciled.
 */
export class ReconcilerRunner {
  private readonly logger = new Logger(ReconcilerRunner.name);
  private started = false;
  private outageConsumer: ThrowAwayConsumer | null = null;
  private continuous: ContinuousReconciler | null = null;
  readonly index: ProducedIndex;

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
    const token = c.intercom.accessToken;
    if (!token) throw new Error('INTERCOM_ACCESS_TOKEN is not set');
    const { kafka, codec, producer, writer } = this.deps;
    // creates the topics, registers the schemas (ids cached in the shared codec) and connects the shared producer
    await writer.start();
    this.started = true;
    const outagesTopic = topicName('outages', c.kafka.topicPrefix);
    const reportsTopic = topicName('reconcileReports', c.kafka.topicPrefix);
    const r = c.reconciler;
    this.continuous = new ContinuousReconciler(
      {
        intervalMs: r.intervalMs,
        windowMs: r.windowMs,
        settleMs: r.settleMs,
        outageMarginMs: r.outageMarginMs,
        appId: r.appId,
      },
      {
        intercom: new IntercomClient({ accessToken: token, baseUrl: c.intercom.baseUrl, version: c.intercom.version }),
        index: this.index,
        sink: new NotificationWriterSink(writer),
        refreshIndex: () => updateProducedIndex(this.index, { kafka, codec, topicPrefix: c.kafka.topicPrefix }),
        outageDone: async (key) =>
          void (await producer.send({ topic: outagesTopic, acks: -1, messages: [{ key, value: null }] })),
        publishReport: async (report) => {
          const value = await codec.encode(
            reportsTopic,
            reconcileReportToAvro({ ...report, reporter: `reconciler@${hostname()}` }),
          );
          await producer.send({
            topic: reportsTopic,
            acks: -1,
            messages: [{ key: `${report.trigger}:${report.since}`, value }],
          });
        },
        registry: this.registry,
      },
    );
    const continuous = this.continuous;
    this.outageConsumer = await followTopic(
      kafka,
      outagesTopic,
      `${c.kafka.topicPrefix}iks-reconciler-outages`,
      async (m) => {
        const key = m.key?.toString() ?? '';
        continuous.outage(key, m.value ? await codec.decodeAs('outages', m.value) : null);
      },
    );
    continuous.start();
    this.logger.log(
      `reconciling every ${r.intervalMs / 1000} s over the last ${r.windowMs / 1000} s (the newest ${r.settleMs / 1000} s left to the webhooks), ` +
        `and each outage ingest reports on ${outagesTopic}; reports on ${reportsTopic}; Intercom at ${c.intercom.baseUrl}, index in ${this.index.path}`,
    );
  }

  get reconciler(): ContinuousReconciler {
    if (!this.continuous) throw new Error('ReconcilerRunner not started');
    return this.continuous;
  }

  readiness() {
    if (!this.continuous) return { reconciler: { up: false, detail: { reason: 'starting' } } };
    return this.continuous.readiness();
  }

  async stop(): Promise<void> {
    await this.outageConsumer?.stop();
    await this.continuous?.stop();
    // the writer drains, then disconnects the producer it shares with the reports
    if (this.started) await this.deps.writer.stop().catch(() => undefined);
    this.started = false;
    this.index.save();
  }
}
