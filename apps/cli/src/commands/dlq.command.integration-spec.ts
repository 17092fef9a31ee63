import type { Config } from '@iks/config';
import type { KlaviyoEventRecord } from '@iks/domain';
import {
  AvroCodec,
  createKafka,
  createProducer,
  DeadLetterPublisher,
  dlqName,
  ensureTopics,
  header,
  eventToAvro,
  topicName,
} from '@iks/kafka';
import { startKlaviyoEmulator, type KlaviyoEmulator } from '../../../../tools/klaviyo-emulator/src';
import { TopicTap, topicOf } from '../../../../test/support/raw-topic';
import { testConfig } from '../../../../test/support/test-config';
import { waitFor } from '../../../../test/support/wait-for';
import { createSinkRunner, type SinkRunner } from '@iks/sink';
import { runDlqCommand } from './dlq.command';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (l: string) => void out.push(l), stderr: (l: string) => void err.push(l) }, out, err };
}

const noTty = { prompt: { isTTY: false, ask: async () => 'n' } };

async function setUp(config: Config): Promise<AvroCodec> {
  const admin = createKafka(config.kafka).admin();
  await admin.connect();
  await ensureTopics(admin, config.kafka);
  await admin.disconnect();
  const codec = new AvroCodec(config.kafka);
  await codec.registerAll();
  return codec;
}

function event(i: number): KlaviyoEventRecord {
  return {
    kind: 'event',
    metric: 'Conversation Created',
    profile: { email: `person${i}@example.com` },
    properties: { 'Conversation ID': String(i) },
    time: '2026-01-02T03:04:05Z',
    unique_id: `intercom:conversation:${i}:created`,
    backfill: false,
    intercom_contact_id: `c${i}`,
    source_notification_id: `notif_${i}`,
    source_topic: 'conversation.user.created',
  };
}

describe('cli dlq list / reprocess (real broker)', () => {
  it('lists dead letters with their reasons, and reprocess --where resends only the matching ones, original bytes, fresh retry state', async () => {
    const config = testConfig();
    const codec = await setUp(config);
    const kafka = createKafka(config.kafka);
    const raw = topicOf(config, 'notifications');
    const retry = topicOf(config, 'notificationsRetry');

    const empty = capture();
    expect(await runDlqCommand(['list', 'intercom.notifications.v1'], config, empty.io)).toBe(0);
    expect(empty.out).toEqual([`no dead letters in ${dlqName(raw)}`]);

    const producer = createProducer(kafka);
    await producer.connect();
    const publisher = new DeadLetterPublisher(producer, codec);
    const mappingError = (message: string) =>
      Object.assign(new Error(message), { name: 'MappingError', code: 'unsupported_topic' });
    const values = [Buffer.from('raw bytes one'), Buffer.from('raw bytes two'), Buffer.from('raw bytes three')];
    await publisher.publish({
      topic: raw,
      partition: 1,
      stage: 'transformer',
      error: mappingError('unsupported Intercom topic visitor.signed_up'),
      message: { key: Buffer.from('k1'), value: values[0], offset: '41', headers: { 'trace-id': 'abc' } },
    });
    await publisher.publish({
      topic: raw,
      partition: 2,
      stage: 'transformer',
      error: Object.assign(new Error('cannot decode the record as Avro: bad magic'), { name: 'RecordDecodeError' }),
      message: { key: Buffer.from('k2'), value: values[1], offset: '7', headers: {} },
    });
    await publisher.publish({
      topic: retry,
      partition: 0,
      stage: 'transformer',
      attempts: 6,
      firstFailureAt: Date.UTC(2026, 0, 1),
      error: Object.assign(new Error('contact 123 has no email or phone; gave up after 86400 s and 6 attempt(s)'), {
        name: 'ContactNotIdentifiableError',
      }),
      message: {
        key: Buffer.from('k3'),
        value: values[2],
        offset: '3',
        headers: {
          'iks-attempt': '6',
          'iks-first-pending-at': '1767225600000',
          'iks-not-before': '1',
          'iks-pending-reason': 'no email',
          'trace-id': 'def',
        },
      },
    });
    await producer.disconnect();

    const c = capture();
    expect(await runDlqCommand(['list', `${raw}.dlq`], config, c.io)).toBe(0);
    const lines = c.out.filter((l) => l.startsWith(`${dlqName(raw)}:`));
    expect(lines).toHaveLength(2);
    expect(lines.find((l) => l.includes(`original=${raw}:1:41`))).toMatch(
      /stage=transformer\tclass=MappingError\tcode=unsupported_topic\tattempts=1\tfirst=\S+Z\tlast=\S+Z\treason=unsupported Intercom topic visitor.signed_up/,
    );
    expect(c.out).toContain('count\t1\tRecordDecodeError: cannot decode the record as Avro: bad magic');
    expect(c.out).toContain(`total\t2 dead letter(s) in ${dlqName(raw)}`);

    const r = capture();
    expect(await runDlqCommand(['list', 'intercom.notifications.v1.retry', '--json'], config, r.io)).toBe(0);
    const letter = JSON.parse(r.out[0]);
    expect(letter).toMatchObject({
      original: `${retry}:0:3`,
      error_class: 'ContactNotIdentifiableError',
      attempts: 6,
      first_failure_at: '2026-01-01T00:00:00.000Z',
    });
    expect(JSON.parse(r.out[1])).toEqual({
      total: 1,
      by_reason: {
        'ContactNotIdentifiableError: contact # has no email or phone; gave up after # s and # attempt(s)': 1,
      },
    });

    const tap = new TopicTap(
      kafka,
      { decode: async (b: Buffer) => b } as unknown as AvroCodec,
      `${config.kafka.topicPrefix}tap`,
    );
    await tap.start([raw, retry]);
    try {
      const refused = capture();
      expect(
        await runDlqCommand(
          ['reprocess', 'intercom.notifications.v1', '--where', 'reason~UNSUPPORTED'],
          config,
          refused.io,
          noTty,
        ),
      ).toBe(2);
      expect(refused.err.join('\n')).toContain('pass --yes');

      const p = capture();
      expect(
        await runDlqCommand(
          ['reprocess', 'intercom.notifications.v1', '--where', 'reason~UNSUPPORTED', '--yes'],
          config,
          p.io,
          noTty,
        ),
      ).toBe(0);
      expect(p.out).toContain('dlq reprocess: 1 match --where reason~UNSUPPORTED, 1 do not');
      expect(p.out.find((l) => l.startsWith('dlq reprocess: sent'))).toBe(
        `dlq reprocess: sent 1 dead letter(s) back (${raw}: 1)`,
      );
      const [resent] = await waitFor(() => tap.of(raw).length === 1 && tap.of(raw), { what: 'the resent record' });
      expect(resent.raw.value!.equals(values[0])).toBe(true);
      expect(resent.key).toBe('k1');
      expect(header(resent.raw.headers, 'trace-id')).toBe('abc');
      expect(header(resent.raw.headers, 'iks-reprocessed-from')).toMatch(
        new RegExp(`^${dlqName(raw).replace(/\./g, '\\.')}:\\d+:0$`),
      );

      // by error class too; the retry state of a retry-exhausted notification is dropped
      const q = capture();
      expect(
        await runDlqCommand(
          ['reprocess', 'intercom.notifications.v1.retry', '--where', 'reason~contactnotidentifiable', '--yes'],
          config,
          q.io,
          noTty,
        ),
      ).toBe(0);
      const [fresh] = await waitFor(() => tap.of(retry).length === 1 && tap.of(retry), {
        what: 'the resent retry record',
      });
      expect(fresh.raw.value!.equals(values[2])).toBe(true);
      expect(Object.keys(fresh.raw.headers ?? {}).sort()).toEqual(['iks-reprocessed-from', 'trace-id']);

      const again = capture();
      expect(
        await runDlqCommand(
          ['reprocess', 'intercom.notifications.v1', '--where', 'reason~unsupported', '--yes'],
          config,
          again.io,
          noTty,
        ),
      ).toBe(0);
      expect(again.out.join('\n')).toMatch(/sent 0/);
      await new Promise((res) => setTimeout(res, 1000));
      expect(tap.of(raw)).toHaveLength(1);
    } finally {
      await tap.stop();
    }
  });

  describe('with the sink and the Klaviyo emulator', () => {
    let emulator: KlaviyoEmulator;
    let sink: SinkRunner | undefined;
    beforeEach(async () => {
      emulator = await startKlaviyoEmulator({ port: 0 });
    });
    afterEach(async () => {
      await sink?.stop();
      await emulator.close();
    });

    it('an event Klaviyo refused, reprocessed after the fault is cleared, reaches Klaviyo; a second reprocess sends nothing', async () => {
      const config = testConfig('cli', {
        KLAVIYO_API_KEY: 'pk_test_dlq_0123456789',
        KLAVIYO_BASE_URL: emulator.url,
        SINK_BATCH_MAX_WAIT_MS: '50',
        SINK_RETRY_MAX_MS: '60000',
      });
      const codec = await setUp(config);
      const topic = topicName('events', config.kafka.topicPrefix);
      emulator.faults.rejectEvent('intercom:conversation:7:created', {
        detail: 'phone_number is not a valid phone number',
      });
      emulator.faults.rejectEvent('intercom:conversation:9:created', { detail: 'email is not a valid email address' });
      const producer = createKafka(config.kafka).producer();
      await producer.connect();
      await producer.send({
        topic,
        acks: -1,
        messages: await Promise.all(
          Array.from({ length: 12 }, async (_, i) => ({
            key: `c${i}`,
            value: await codec.encode(topic, eventToAvro(event(i))),
          })),
        ),
      });
      await producer.disconnect();
      sink = await createSinkRunner(config);
      await sink.start();
      await waitFor(() => emulator.store.events.length === 10 && sink!.tally.count('dead_letter') === 2, {
        what: '10 delivered, 2 dead-lettered',
        timeoutMs: 60_000,
      });

      const l = capture();
      expect(await runDlqCommand(['list', 'klaviyo.events.v1'], config, l.io)).toBe(0);
      const lines = l.out.filter((x) => x.startsWith(`${dlqName(topic)}:`));
      expect(lines).toHaveLength(2);
      expect(lines.join('\n')).toMatch(
        /stage=sink\tclass=KlaviyoRejectedError\tcode=\S+\t.*reason=Klaviyo 400 .*phone_number is not a valid phone number/,
      );
      expect(l.out.filter((x) => x.startsWith('count\t1\tKlaviyoRejectedError'))).toHaveLength(2);
      expect(l.out.find((x) => x.startsWith('count\t1\tKlaviyoRejectedError') && x.includes('phone_number'))).toMatch(
        /: Klaviyo 400 /,
      );

      emulator.faults.clear();
      const p = capture();
      expect(
        await runDlqCommand(
          ['reprocess', 'klaviyo.events.v1', '--where', 'reason~phone_number', '--yes'],
          config,
          p.io,
          noTty,
        ),
      ).toBe(0);
      expect(p.out).toContain(`dlq reprocess: sent 1 dead letter(s) back (${topic}: 1)`);
      await waitFor(() => emulator.store.events.some((e) => e.unique_id === 'intercom:conversation:7:created'), {
        what: 'the reprocessed event in Klaviyo',
        timeoutMs: 60_000,
      });
      expect(emulator.store.events.some((e) => e.unique_id === 'intercom:conversation:9:created')).toBe(false);
      expect(emulator.store.events).toHaveLength(11);

      const again = capture();
      expect(
        await runDlqCommand(
          ['reprocess', 'klaviyo.events.v1', '--where', 'reason~phone_number', '--yes'],
          config,
          again.io,
          noTty,
        ),
      ).toBe(0);
      expect(again.out.join('\n')).toMatch(/sent 0/);
      expect(sink.tally.count('dead_letter')).toBe(2);
    });
  });
});
