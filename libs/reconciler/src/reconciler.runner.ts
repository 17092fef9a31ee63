import { hostname } from 'node:os';
import { Logger } from '@nestjs/common';
import type { Producer } from 'kafkajs';
import { Registry } from 'prom-client';
import type { Config } from '@iks/config';
import { NotificationWriterSink, ProducedIndex } from '@iks/backfill';
import { IntercomClient } from '@iks/intercom';
import { AvroCodec, createKafka, createProducer, followTopic, outageFromAvro, reconcileReportToAvro, topicName, type ThrowAwayConsumer } from '@iks/kafka';
import { NotificationWriter } from '@iks/ingest';
import { ContinuousReconciler } from './continuous-reconciler';
import { updateProducedIndex } from './produced-index.updater';

/**
 * The reconciler app's work without Nest (the app, the tests and `npm start` run this class):
 * the raw-topic writer for healed notifications, the index of produced ids, the Intercom client,
 * and a follower of pipeline.outages.v1 that hands each outage ingest reported to the
 * ContinuousReconciler and tombstones it once reconciled.
 */
export class ReconcilerRunner {
  private readonly logger = new Logger(ReconcilerRunner.name);
  private writer: NotificationWriter | null = null;
  private producer: Producer | null = null;
  private outageConsumer: ThrowAwayConsumer | null = null;
  private continuous: ContinuousReconciler | null = null;
  readonly index: ProducedIndex;

  constructor(private readonly config: Config, readonly registry: Registry = new Registry()) {
    this.index = ProducedIndex.open(config.reconciler.indexDir, topicName('events', config.kafka.topicPrefix), topicName('profiles', config.kafka.topicPrefix));
  }

  async start(): Promise<void> {
    const c = this.config;
    const token = c.intercom.accessToken;
    if (!token) throw new Error('INTERCOM_ACCESS_TOKEN is not set');
    const kafka = createKafka(c.kafka);
    const codec = new AvroCodec(c.kafka);
    // creates the topics and registers the schemas, as every stage does at start
    this.writer = new NotificationWriter(c, undefined, { recordOutages: false });
    await this.writer.start();
    await codec.registerAll();
    this.producer = createProducer(kafka);
    await this.producer.connect();
    const outagesTopic = topicName('outages', c.kafka.topicPrefix);
    const reportsTopic = topicName('reconcileReports', c.kafka.topicPrefix);
    const producer = this.producer;
    const r = c.reconciler;
    this.continuous = new ContinuousReconciler(
      { intervalMs: r.intervalMs, windowMs: r.windowMs, settleMs: r.settleMs, outageMarginMs: r.outageMarginMs, appId: r.appId },
      {
        intercom: new IntercomClient({ accessToken: token, baseUrl: c.intercom.baseUrl, version: c.intercom.version }),
        index: this.index,
        sink: new NotificationWriterSink(this.writer),
        refreshIndex: () => updateProducedIndex(c.kafka, this.index, codec),
        outageDone: async (key) => void (await producer.send({ topic: outagesTopic, acks: -1, messages: [{ key, value: null }] })),
        publishReport: async (report) => {
          const value = await codec.encode(reportsTopic, reconcileReportToAvro({ ...report, reporter: `reconciler@${hostname()}` }));
          await producer.send({ topic: reportsTopic, acks: -1, messages: [{ key: `${report.trigger}:${report.since}`, value }] });
        },
        registry: this.registry,
      },
    );
    const continuous = this.continuous;
    this.outageConsumer = await followTopic(kafka, outagesTopic, `${c.kafka.topicPrefix}iks-reconciler-outages`, async (m) => {
      const key = m.key?.toString() ?? '';
      continuous.outage(key, m.value ? outageFromAvro(await codec.decode(m.value)) : null);
    });
    continuous.start();
    this.logger.log(
      `reconciling every ${r.intervalMs / 1000} s over the last ${r.windowMs / 1000} s (the newest ${r.settleMs / 1000} s left to the webhooks), `
      + `and each outage ingest reports on ${outagesTopic}; reports on ${reportsTopic}; Intercom at ${c.intercom.baseUrl}, index in ${this.index.path}`,
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
    await this.producer?.disconnect().catch(() => undefined);
    await this.writer?.stop().catch(() => undefined);
    this.index.save();
  }
}
