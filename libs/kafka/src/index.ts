export {
  TOPICS,
  UNCLAIMED_RETENTION_MS,
  DLQ,
  DLQ_SOURCES,
  topic,
  dlqTopic,
  topicSpec,
  topicName,
  dlqName,
  allTopics,
  type Topic,
  type TopicKey,
  type RecordKey,
  type TopicRecords,
  type TopicSpec,
} from './topics';
export { SCHEMAS_DIR, loadSchema, backwardIncompatibility } from './schemas';
export {
  AvroCodec,
  REGISTRY_REQUEST_TIMEOUT_MS,
  SchemaContractError,
  SchemaRegistryTimeoutError,
  type SchemaCheckResult,
} from './avro-codec';
export {
  createKafka,
  createProducer,
  ensureTopics,
  prepareStage,
  GROUP_TIMING,
  GZIP_LEVEL,
  SEALED_RECORDS_COMPRESSION,
} from './kafka-client';
export { DeadLetterPublisher, describeError, type FailureContext } from './dead-letter';
export {
  REPROCESSED_FROM,
  RECEIVED_AT,
  reasonKey,
  matchesWhere,
  reprocessHeaders,
  sendBack,
} from './dead-letter-reprocess';
export {
  eventToAvro,
  eventFromAvro,
  profileToAvro,
  profileFromAvro,
  deletionToAvro,
  deletionFromAvro,
  notificationToAvro,
  notificationFromAvro,
  contactToAvro,
  contactFromAvro,
  deadLetterToAvro,
  deadLetterFromAvro,
  outcomeToAvro,
  outcomeFromAvro,
  outageToAvro,
  outageFromAvro,
  reconcileReportToAvro,
  reconcileReportFromAvro,
  connectionToAvro,
  connectionFromAvro,
  type ConnectionRecord,
  type ConnectionAvro,
  type SealedValue,
  type SealedValueAvro,
  type EventAvro,
  type ProfileAvro,
  type DeletionAvro,
  type NotificationAvro,
  type ContactAvro,
  type DeadLetterAvro,
  type OutcomeAvro,
  type OutageAvro,
  type ReconcileReportAvro,
} from './serdes';
export { chunksByBytes, sendInBoundedRequests, type BoundedSendOptions, type TopicMessage } from './producer-requests';
export { header } from './header.util';
export { nextOffset } from './next-offset.util';
export { RecordDecodeError } from './record-decode.error';
export { followTopic, topicOffsets, type FollowTopicOptions } from './follow-topic';
export {
  CatchUp,
  CatchUpStalledError,
  CATCH_UP_STALL_MS,
  startCaughtUp,
  startFollower,
  retryStalled,
  type CatchUpOptions,
} from './catch-up';
export { throwAwayConsumer, deleteGroup, type ThrowAwayConsumer } from './throw-away-group';
export { readTopicRanges, type OffsetRange } from './topic-range.reader';
export { KafkaModule, KAFKA, PRODUCER } from './kafka.module';
