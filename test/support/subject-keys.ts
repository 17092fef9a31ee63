import type { INestApplicationContext } from '@nestjs/common';
import type { Producer } from 'kafkajs';
import type { Config } from '@iks/config';
import type { DeliveryOutcome } from '@iks/domain';
import { ErasureModule, openOutcome, openPersonal, SubjectKeys, type SealableRecord } from '@iks/erasure';
import { PRODUCER } from '@iks/kafka';
import { createContext } from '@iks/ops';

/**
 * A reader of the people's keys of a run (docs/ERASURE.md): what a spec uses to open the sealed
 * personal fields of the records it reads back from the topics, as the sink and the console do.
 */
export interface SubjectKeysReader {
  readonly keys: SubjectKeys;
  open<R extends SealableRecord>(record: R): Promise<R>;
  openOutcome(outcome: DeliveryOutcome): Promise<DeliveryOutcome>;
  close(): Promise<void>;
}

/** Follows the keys' topic of `config`'s prefix (its topics must exist: a stage of the run created them). */
export async function subjectKeysReader(config: Config): Promise<SubjectKeysReader> {
  const app: INestApplicationContext = await createContext(config, 'cli', ErasureModule);
  const keys = app.get(SubjectKeys);
  await keys.start();
  return {
    keys,
    open: (r) => openPersonal(keys, r),
    openOutcome: (o) => openOutcome(keys, o),
    close: async () => {
      await keys.stop();
      await app.get<Producer>(PRODUCER).disconnect();
      await app.close();
    },
  };
}
