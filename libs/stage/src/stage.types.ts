import type { ConsumerConfig, KafkaMessage, Message } from 'kafkajs';
import type { DeliveryOutcome } from '@iks/domain';
import type { Topic, TopicKey, TopicRecords } from '@iks/kafka';

/**
 * What a stage handler decided for one consumed record (emmett style: an outcome, not a log
 * line). Every outcome is counted with its reason; `dead_letter` sends the record with its
 * error to `<topic>.dlq` before the offset is committed (Kafka Connect's rule).
 */
export type RecordOutcome = (
  | {
      readonly kind: 'done';
      readonly reason: string;
      readonly source?: string;
      readonly notes?: readonly string[];
      /** The outcome's time when it is not the slice's (the sink: when the request that carried the record was answered). */
      readonly outcomeAt?: number;
    }
  | { readonly kind: 'skip'; readonly reason: string; readonly source?: string; readonly notes?: readonly string[] }
  | { readonly kind: 'pending'; readonly reason: string; readonly source?: string }
  | {
      readonly kind: 'dead_letter';
      readonly error: unknown;
      readonly source?: string;
      readonly attempts?: number;
      readonly firstFailureAt?: number;
      /**
       * The record to dead-letter instead of the one consumed, when that one only carried it (a
       * parked record: its original topic, partition, offset, key, value and headers), so the
       * letter lands in the original topic's `.dlq` and is reprocessed from there.
       */
      readonly original?: {
        readonly topic: string;
        readonly partition: number;
        readonly message: Pick<KafkaMessage, 'key' | 'value' | 'headers' | 'offset'>;
      };
    }
) & {
  /**
   * What the record was, when the handler has decoded it anyway: the outcome publisher uses it
   * instead of decoding the record a second time (`describeRecord` is the fallback).
   */
  readonly subject?: OutcomeSubject;
};

export type OutcomeKind = RecordOutcome['kind'];

export interface ProducedRecord {
  readonly topic: string;
  readonly message: Message;
}

/** A consumed record, decoded against its topic's schema before any handler sees it. */
export interface StageRecord<T> {
  readonly message: KafkaMessage;
  readonly value: T;
}

/**
 * One call of a stage handler: the decoded records of a slice of one partition's batch (the
 * records that did not decode are already dead letters).
 */
export interface StageBatch<T> {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly StageRecord<T>[];
  /** Keep the group membership alive during a long wait (rate windows, backoff). */
  heartbeat(): Promise<void>;
  /** False once the consumer is stopping or the partition was revoked: return without committing. */
  isRunning(): boolean;
  /**
   * The slice needs nothing more from the consumer than its answers (events queued for their bulk
   * request): with a pipelined spec the consumer fetches again meanwhile. The slice is still
   * committed only after its outcomes, and after every earlier slice of its partition.
   */
  release(): void;
}

/**
 * A handler's answer: one outcome per record of the batch (same order), and the records to produce. The
 * runner produces them (acks=all), dead-letters, counts, then commits. A thrown error means
 * the stage cannot work right now (broker, registry, network): nothing is committed and the
 * batch is read again after a backoff; a record that can never be processed is an outcome.
 */
export interface StageResult {
  readonly outcomes: readonly RecordOutcome[];
  readonly produce?: readonly ProducedRecord[];
  /** Set when the handler stopped early (shutdown): commit nothing. */
  readonly aborted?: boolean;
}

export type StageHandler<T> = (batch: StageBatch<T>) => Promise<StageResult>;

/** The handler of topic `K`'s records. */
export type TopicHandler<K extends TopicKey> = StageHandler<TopicRecords[K]>;

/** A consumed topic; `describe` says what one of its records is, for the outcomes topic. */
export interface StageTopic<K extends TopicKey> {
  readonly topic: Topic<K>;
  readonly describe?: (record: TopicRecords[K]) => OutcomeSubject;
}

/** A consumed topic of any kind (the union keeps each topic's record type with its describe). */
export type AnyStageTopic = { [K in TopicKey]: StageTopic<K> }[TopicKey];

/** One consumer group of a stage and its topics (each served by the one handler of its topic key). */
export interface StageConsumerSpec {
  readonly groupId: string;
  readonly topics: readonly AnyStageTopic[];
  /** Records per handler call (default 500). */
  readonly chunkSize?: number;
  readonly consumer?: Partial<ConsumerConfig>;
  readonly partitionsConsumedConcurrently?: number;
  /** Start from these offsets instead of the committed ones (replay). */
  readonly seek?: ReadonlyArray<{ readonly topic: string; readonly partition: number; readonly offset: string }>;
  /** Exclusive end offset per `topic:partition` (a replay's plan): records from there on are left alone. */
  readonly until?: ReadonlyMap<string, bigint>;
  /** Called after every rebalance with the partitions this member now owns, per topic. */
  readonly onAssignment?: (assignment: Readonly<Record<string, readonly number[]>>) => void;
  /** Test seam: runs after producing and dead-lettering, before the offset commit (a throw = a crash there). */
  readonly beforeCommit?: (topic: string, partition: number) => Promise<void>;
  /**
   * Publish one outcome per consumed record to this topic (klaviyo.outcomes.v1) before the
   * commit, and `retried` ones when a slice fails; each topic's `describe` says what a record was.
   */
  readonly outcomesTopic?: string;
  /**
   * Fetch while slices are delivered (the sink): a slice's batch returns to kafkajs once its
   * handler calls `release()` (or is done), so the next fetch is read while the slice waits for its
   * answers; commits stay in each partition's order, a slice whose predecessor was not committed
   * is not committed either, and nothing is committed after a rebalance for the generation
   * before it. At most `maxRecordsInFlight` records are unsettled: beyond that the next fetch waits.
   */
  readonly pipeline?: { readonly maxRecordsInFlight: number };
}

/** What an outcome says about the record itself (decoded by the stage that owns the topic). */
export type OutcomeSubject = Pick<
  DeliveryOutcome,
  | 'record_kind'
  | 'metric'
  | 'unique_id'
  | 'intercom_contact_id'
  | 'email'
  | 'phone_number'
  | 'event_time'
  | 'properties_json'
  | 'backfill'
  | 'source_notification_id'
  | 'connection_id'
  | 'personal'
>;

export type StageName = 'transformer' | 'sink';

/** Finds the one handler of a topic key (see StageHandlers: the @OnTopic methods of the stage's providers). */
export type HandlerLookup = <K extends TopicKey>(key: K) => TopicHandler<K> | undefined;
