import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { freePort } from './free-port';
import { waitFor } from './wait-for';

// test/support, or dist/test/support when the chaos suite runs it built
const LIBS = join(
  resolve(__dirname, __dirname.includes(join('dist', 'test')) ? '../../..' : '../..'),
  '.stack',
  'kafka-libs',
);

/**
 * A second, private Kafka broker (same jars as `npm run stack:up`) that a test may stop and
 * start again: for "Kafka is down" and "broker restart" behaviour without touching the
 * shared broker. Its data survives stop()/start().
 */
export class PrivateBroker {
  private proc: ChildProcess | null = null;
  readonly dataDir = mkdtempSync(join(tmpdir(), 'iks-broker-'));
  port = 0;
  private controllerPort = 0;

  get brokers(): string {
    return `127.0.0.1:${this.port}`;
  }

  static available(): boolean {
    return existsSync(join(LIBS, '.complete'));
  }

  async start(): Promise<void> {
    if (!PrivateBroker.available()) throw new Error('Kafka jars missing: run `npm run stack:up` once');
    if (!this.port) {
      this.port = await freePort();
      this.controllerPort = await freePort();
      const props = [
        'process.roles=broker,controller',
        'node.id=1',
        `controller.quorum.voters=1@127.0.0.1:${this.controllerPort}`,
        `listeners=PLAINTEXT://127.0.0.1:${this.port},CONTROLLER://127.0.0.1:${this.controllerPort}`,
        `advertised.listeners=PLAINTEXT://127.0.0.1:${this.port}`,
        'controller.listener.names=CONTROLLER',
        'inter.broker.listener.name=PLAINTEXT',
        'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
        `log.dirs=${join(this.dataDir, 'data')}`,
        'num.partitions=3',
        'offsets.topic.replication.factor=1',
        'offsets.topic.num.partitions=3',
        'transaction.state.log.replication.factor=1',
        'transaction.state.log.min.isr=1',
        'share.coordinator.state.topic.replication.factor=1',
        'share.coordinator.state.topic.min.isr=1',
        'group.initial.rebalance.delay.ms=0',
      ];
      writeFileSync(join(this.dataDir, 'server.properties'), `${props.join('\n')}\n`);
      execFileSync(
        'java',
        [
          '-cp',
          `${LIBS}/*`,
          'kafka.tools.StorageTool',
          'format',
          '-t',
          'iks-test-cluster-00000',
          '-c',
          join(this.dataDir, 'server.properties'),
        ],
        { stdio: 'ignore' },
      );
    }
    this.proc = spawn(
      'java',
      ['-Xmx384m', '-cp', `${LIBS}/*`, 'kafka.Kafka', join(this.dataDir, 'server.properties')],
      { stdio: 'ignore' },
    );
    const kafka = new Kafka({ brokers: [this.brokers], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    await waitFor(
      async () => {
        const admin = kafka.admin();
        try {
          await admin.connect();
          await admin.listTopics();
          return true;
        } finally {
          await admin.disconnect();
        }
      },
      { timeoutMs: 60_000, intervalMs: 300, what: `private broker on ${this.brokers}` },
    );
  }

  /** Kill the broker at once (SIGKILL): the harshest outage. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
    this.proc = null;
  }
}
