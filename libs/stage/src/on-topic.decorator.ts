import { SetMetadata } from '@nestjs/common';
import type { TopicKey } from '@iks/kafka';
import type { TopicHandler } from './stage.types';

export const STAGE_TOPIC = Symbol('iks:stage-topic');

/**
 * Marks a provider's method as THE handler of topic `key`'s records (immich's @OnJob): the
 * method gets decoded, typed batches of that topic (`StageBatch<TopicRecords[K]>`, checked here
 * at compile time). StageHandlers finds these methods at start; a consumed topic with no handler
 * or with two stops the start-up.
 */
export function OnTopic<K extends TopicKey>(key: K) {
  return <M extends TopicHandler<K>>(
    target: object,
    property: string | symbol,
    descriptor: TypedPropertyDescriptor<M>,
  ): void => {
    SetMetadata(STAGE_TOPIC, key)(target, property, descriptor);
  };
}
