import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '@iks/config';
import { NO_INTERCOM_API } from '@iks/directory';
import { AvroCodec, createKafka, followTopic, topicName } from '@iks/kafka';
import { createSinkRunner } from '@iks/sink';
import { createTransformerRunner } from '@iks/transformer';
import { DeliveryReadModel, GapsModel, ReadModelFeed } from '@iks/console';
import { testConfig } from '../support/test-config';

/**
 * Issue #10 item 6: a process start leaves no consumer group behind. The followers (the sink's
 * tombstones, the transformer's directory, followTopic) need a group of their own for kafkajs to
 * assign partitions; stopping them deletes it, so the cluster's group list keeps only real groups.
 */
describe('throw-away consumer groups are gone once their reader stops', () => {
  const groupsUnder = async (config: Config): Promise<string[]> => {
    const admin = createKafka(config.kafka).admin();
    await admin.connect();
    try {
      return (await admin.listGroups()).groups
        .map((g) => g.groupId)
        .filter((id) => id.startsWith(config.kafka.topicPrefix))
        .sort();
    } finally {
      await admin.disconnect();
    }
  };

  it('the sink leaves only its own group (the tombstones follower group is deleted)', async () => {
    const config = testConfig('sink', {
      KLAVIYO_API_KEY: 'pk_test_groups_0123456789',
      KLAVIYO_BASE_URL: 'http://127.0.0.1:9',
    });
    const runner = await createSinkRunner(config);
    await runner.start();
    const running = await groupsUnder(config);
    expect(running.filter((g) => g.startsWith(`${config.sink.groupId}.tombstones.`))).toHaveLength(1);
    await runner.stop();
    expect((await groupsUnder(config)).filter((g) => g !== config.sink.groupId)).toEqual([]);
  });

  it('the transformer leaves only its own groups (the directory follower group is deleted)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iks-groups-'));
    const config = testConfig('transformer', { DIRECTORY_PATH: dir });
    const runner = await createTransformerRunner(config, { intercomSource: NO_INTERCOM_API });
    try {
      await runner.start();
      const running = await groupsUnder(config);
      expect(running.filter((g) => g.startsWith(`${config.transformer.groupId}.directory.`))).toHaveLength(1);
      await runner.stop();
      const real = new Set([config.transformer.groupId, `${config.transformer.groupId}.retry`]);
      expect((await groupsUnder(config)).filter((g) => !real.has(g))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the console feed leaves no group', async () => {
    const config = testConfig('cli');
    const feed = new ReadModelFeed(
      createKafka(config.kafka),
      new AvroCodec(config.kafka),
      new DeliveryReadModel(),
      new GapsModel(),
      config,
    );
    await feed.start();
    expect(
      (await groupsUnder(config)).filter((g) => g.startsWith(`${config.kafka.topicPrefix}iks-console.`)),
    ).toHaveLength(1);
    await feed.stop();
    expect(await groupsUnder(config)).toEqual([]);
  });

  it('followTopic commits nothing and stop() deletes its group', async () => {
    const config = testConfig('cli');
    const kafka = createKafka(config.kafka);
    const topic = topicName('deletions', config.kafka.topicPrefix);
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({
        topic,
        acks: -1,
        messages: [
          { key: 'a', value: 'x' },
          { key: 'b', value: 'y' },
        ],
      });
      await producer.disconnect();
      let read = 0;
      const follower = await followTopic(kafka, topic, `${config.kafka.topicPrefix}follow`, () => void read++);
      expect(read).toBe(2);
      const offsets = await admin.fetchOffsets({ groupId: follower.groupId, topics: [topic] });
      expect(offsets[0].partitions.every((p) => p.offset === '-1')).toBe(true);
      expect(await groupsUnder(config)).toEqual([follower.groupId]);
      await follower.stop();
      await follower.stop(); // idempotent
      expect(await groupsUnder(config)).toEqual([]);
    } finally {
      await admin.disconnect();
    }
  });
});
