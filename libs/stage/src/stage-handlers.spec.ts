import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DiscoveryModule } from '@nestjs/core';
import type { Kafka, Producer } from 'kafkajs';
import { Registry } from 'prom-client';
import type { KlaviyoEventRecord, RawNotification } from '@iks/domain';
import { topic, type AvroCodec } from '@iks/kafka';
import { OnTopic } from './on-topic.decorator';
import { StageHandlers, StageWiringError } from './stage-handlers';
import { StageRuntime } from './stage-runtime';
import type { StageBatch, StageResult } from './stage.types';

const done = async (b: StageBatch<unknown>): Promise<StageResult> => ({
  outcomes: b.records.map(() => ({ kind: 'done' as const, reason: 'ok' })),
});

@Injectable()
class EventsHandler {
  @OnTopic('events')
  events(b: StageBatch<KlaviyoEventRecord>): Promise<StageResult> {
    return done(b);
  }
}

@Injectable()
class SecondEventsHandler {
  @OnTopic('events')
  alsoEvents(b: StageBatch<KlaviyoEventRecord>): Promise<StageResult> {
    return done(b);
  }
}

@Injectable()
class NotificationsHandler {
  @OnTopic('notifications')
  notifications(b: StageBatch<RawNotification>): Promise<StageResult> {
    return done(b);
  }
}

async function lookupIn(providers: Parameters<typeof Module>[0]['providers']) {
  @Module({ imports: [DiscoveryModule], providers: [StageHandlers, ...(providers ?? [])] })
  class TestModule {}
  const app = await NestFactory.createApplicationContext(TestModule, { logger: false, abortOnError: false });
  try {
    return app.get(StageHandlers).lookup();
  } finally {
    await app.close();
  }
}

/** A runtime whose Kafka fails the test if anything is consumed. */
function runtime(): StageRuntime {
  const kafka = {
    consumer: () => {
      throw new Error('a consumer was started');
    },
  } as unknown as Kafka;
  return new StageRuntime({
    stage: 'sink',
    kafka,
    producer: {} as Producer,
    codec: {} as AvroCodec,
    registry: new Registry(),
    stallReadyMs: 1000,
    stallLiveMs: 1000,
  });
}

describe('stage handlers: one @OnTopic handler per consumed topic', () => {
  it("finds each topic's handler on the providers, bound to its instance", async () => {
    const lookup = await lookupIn([EventsHandler, NotificationsHandler]);
    expect(lookup('events')).toBeDefined();
    expect(lookup('notifications')).toBeDefined();
    expect(lookup('profiles')).toBeUndefined();
    const result = await lookup('events')!({
      topic: 't',
      partition: 0,
      records: [],
      heartbeat: async () => undefined,
      isRunning: () => true,
      release: () => undefined,
    });
    expect(result).toEqual({ outcomes: [] });
  });

  it('refuses to start when a topic has two handlers, naming both', async () => {
    const failure = await lookupIn([EventsHandler, SecondEventsHandler]).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(StageWiringError);
    expect((failure as Error).message).toMatch(
      /more than one handler for topic events \(EventsHandler\.events, SecondEventsHandler\.alsoEvents\)/,
    );
  });

  it('counts a provider and its alias (useExisting) once', async () => {
    const lookup = await lookupIn([EventsHandler, { provide: 'ALIAS', useExisting: EventsHandler }]);
    expect(lookup('events')).toBeDefined();
  });

  it('refuses to start, before consuming anything, when a consumed topic has no handler', async () => {
    const lookup = await lookupIn([NotificationsHandler]);
    const specs = [
      { groupId: 'g', topics: [{ topic: topic('events', 'p.') }, { topic: topic('notifications', 'p.') }] },
    ];
    await expect(runtime().start(specs, lookup)).rejects.toThrow(
      'sink: no handler for events (topic p.klaviyo.events.v1)',
    );
  });
});
