export { TOPICS, DLQ_SOURCES, topicName, dlqName, allTopics, type TopicKey, type TopicSpec } from './topics';
export { SCHEMAS_DIR, loadSchema, backwardIncompatibility } from './schemas';
export { AvroCodec, SchemaContractError, type SchemaCheckResult } from './avro-codec';
export { createKafka, createProducer, ensureTopics, prepareStage, GROUP_TIMING } from './kafka-client';
export { BatchingProducer } from './batching-producer';
export { DeadLetterPublisher, describeError, type FailureContext } from './dead-letter';
export * as serdes from './serdes';
export { header, nextOffset, sleep, Counters, RecordDecodeError, decodeOrPoison } from './consumer-util';
export { followTopic } from './follow-topic';
