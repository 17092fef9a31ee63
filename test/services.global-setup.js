// Integration and e2e tests need a real Kafka broker and schema registry. Precedence:
// 1. KAFKA_BROKERS / SCHEMA_REGISTRY_URL when set (any cluster);
// 2. the local stack (npm run stack:up) when it answers on its default ports;
// 3. containers from testcontainers when a Docker engine answers;
// otherwise fail with what to do.
const net = require('node:net');

function probe(host, port, timeoutMs = 1500) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok) => { s.destroy(); resolve(ok); };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

async function dockerAvailable() {
  try {
    const { getContainerRuntimeClient } = require('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

/**
 * A freshly started broker creates __consumer_offsets and loads its group coordinators on the
 * first group use, which can stall the first tests' groups: do that once, before any test.
 * Each jest process (npm test runs two shards side by side) warms up with a topic and group of
 * its own: with one name from Date.now() alone, two shards started in the same millisecond
 * joined one group, one of them got no partition and waited for its message for ever (a whole
 * shard hung before its first test). The wait is bounded too: a warm-up that reads nothing in
 * 60 s fails the run with that message instead of hanging it.
 */
async function warmUpOnce(brokers) {
  const { Kafka, logLevel } = require('kafkajs');
  const kafka = new Kafka({ clientId: 'iks-test-warmup', brokers: brokers.split(','), logLevel: logLevel.NOTHING, retry: { retries: 20 } });
  const topic = `iks-warmup-${Date.now()}-${process.pid}-${require('node:crypto').randomBytes(3).toString('hex')}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: [{ value: 'warm-up' }] });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: topic, maxWaitTimeInMs: 500 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let timer;
  await Promise.race([
    new Promise((resolve) => consumer.run({ eachMessage: async () => resolve() })),
    new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the broker warm-up read nothing of ${topic} in 60 s (group ${topic}): is the broker at ${brokers} healthy?`)),
        60_000,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  await consumer.commitOffsets([{ topic, partition: 0, offset: '1' }]).catch(() => undefined);
  await consumer.disconnect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.deleteGroups([topic]).catch(() => undefined);
  await admin.disconnect();
}

/**
 * warmUpOnce, asked again (up to 5 times, 2 s apart) when a broker started a moment ago answers
 * that it does not host the new topic yet (seen right after `npm run stack:up`).
 */
async function warmUp(brokers) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await warmUpOnce(brokers);
    } catch (e) {
      if (attempt >= 5 || /read nothing/.test(e.message)) throw e;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

module.exports = async function globalSetup() {
  if (process.env.KAFKA_BROKERS && process.env.SCHEMA_REGISTRY_URL) return warmUp(process.env.KAFKA_BROKERS);
  if ((await probe('127.0.0.1', 9092)) && (await probe('127.0.0.1', 8081))) {
    process.env.KAFKA_BROKERS ||= '127.0.0.1:9092';
    process.env.SCHEMA_REGISTRY_URL ||= 'http://127.0.0.1:8081/apis/ccompat/v7';
    return warmUp(process.env.KAFKA_BROKERS);
  }
  if (await dockerAvailable()) {
    const { GenericContainer, Wait, Network } = require('testcontainers');
    const network = await new Network().start();
    const kafka = await new GenericContainer('apache/kafka:4.1.1')
      .withNetwork(network).withNetworkAliases('kafka')
      .withExposedPorts({ container: 9092, host: 9092 })
      .withEnvironment({
        KAFKA_NODE_ID: '1',
        KAFKA_PROCESS_ROLES: 'broker,controller',
        KAFKA_LISTENERS: 'PLAINTEXT://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093,INTERNAL://0.0.0.0:19092',
        KAFKA_ADVERTISED_LISTENERS: 'PLAINTEXT://127.0.0.1:9092,INTERNAL://kafka:19092',
        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT',
        KAFKA_INTER_BROKER_LISTENER_NAME: 'INTERNAL',
        KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
        KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
        KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: '1',
        KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: '1',
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
        KAFKA_NUM_PARTITIONS: '3',
      })
      .withWaitStrategy(Wait.forLogMessage(/Kafka Server started|Transition from STARTING to STARTED/))
      .start();
    const registry = await new GenericContainer('apicurio/apicurio-registry:3.3.3')
      .withNetwork(network)
      .withExposedPorts(8080)
      .withWaitStrategy(Wait.forHttp('/apis/ccompat/v7/subjects', 8080))
      .start();
    process.env.KAFKA_BROKERS = `127.0.0.1:${kafka.getMappedPort(9092)}`;
    process.env.SCHEMA_REGISTRY_URL = `http://${registry.getHost()}:${registry.getMappedPort(8080)}/apis/ccompat/v7`;
    globalThis.__IKS_CONTAINERS__ = [registry, kafka, network];
    return;
  }
  throw new Error(
    'Integration tests need a Kafka broker and a schema registry: run `npm run stack:up` first ' +
      '(or set KAFKA_BROKERS and SCHEMA_REGISTRY_URL, or start a Docker engine for testcontainers).',
  );
};
