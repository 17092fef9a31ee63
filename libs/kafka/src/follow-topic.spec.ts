import { EventEmitter } from 'node:events';
import type { Consumer, EachMessagePayload, Kafka, KafkaMessage } from 'kafkajs';
import { CatchUp, CatchUpStalledError } from './catch-up';
import { followTopic } from './follow-topic';

const EVENTS = { GROUP_JOIN: 'consumer.group_join', CRASH: 'consumer.crash' } as const;

/** How one fake consumer behaves: joins and delivers `records`, or never finishes joining. */
type Behaviour = { kind: 'delivers'; records: number } | { kind: 'never-joins' } | { kind: 'joins-empty' };

/** A kafkajs stand-in: one partition whose end offset is `high`; each consumer made behaves as the next behaviour says. */
function fakeKafka(high: number, behaviours: Behaviour[]) {
  const made: Array<{ groupId: string; disconnected: boolean }> = [];
  const deleted: string[] = [];
  const kafka = {
    admin: () => ({
      connect: async () => undefined,
      disconnect: async () => undefined,
      fetchTopicOffsets: async () => [{ partition: 0, low: '0', high: String(high), offset: String(high) }],
      deleteGroups: async (ids: string[]) => void deleted.push(...ids),
    }),
    consumer: ({ groupId }: { groupId: string }) => {
      const behaviour = behaviours.shift() ?? { kind: 'never-joins' };
      const events = new EventEmitter();
      const me = { groupId, disconnected: false };
      made.push(me);
      const consumer = {
        events: EVENTS,
        on: (event: string, listener: (e: unknown) => void) => {
          events.on(event, listener);
          return () => events.off(event, listener);
        },
        connect: async () => undefined,
        subscribe: async () => undefined,
        disconnect: async () => void (me.disconnected = true),
        run: async ({ eachMessage }: { eachMessage: (p: EachMessagePayload) => Promise<void> }) => {
          if (behaviour.kind === 'never-joins') return new Promise<void>(() => undefined);
          events.emit(EVENTS.GROUP_JOIN, {
            payload: { memberAssignment: behaviour.kind === 'joins-empty' ? {} : { t: [0] } },
          });
          if (behaviour.kind === 'delivers')
            setImmediate(async () => {
              for (let o = 0; o < behaviour.records; o++)
                await eachMessage({
                  topic: 't',
                  partition: 0,
                  message: { offset: String(o), key: Buffer.from(`k${o}`), value: Buffer.from('v') } as KafkaMessage,
                } as EachMessagePayload);
            });
        },
      } as unknown as Consumer;
      return consumer;
    },
  } as unknown as Kafka;
  return { kafka, made, deleted };
}

describe('followTopic: a catch-up that reads nothing fails the start instead of hanging', () => {
  it('resolves once the records up to the end offsets seen at start are applied', async () => {
    const { kafka, made } = fakeKafka(3, [{ kind: 'delivers', records: 3 }]);
    const applied: string[] = [];
    const follower = await followTopic(kafka, 't', 'g', (m) => void applied.push(m.offset), { stallMs: 2000 });
    expect(applied).toEqual(['0', '1', '2']);
    expect(made).toHaveLength(1);
    await follower.stop();
  });

  it('a group that never finishes joining: tried again with a new group, then CatchUpStalledError naming it', async () => {
    const { kafka, made, deleted } = fakeKafka(5, [{ kind: 'never-joins' }, { kind: 'never-joins' }]);
    const started = Date.now();
    const error = await followTopic(kafka, 't', 'g', () => undefined, { stallMs: 200 }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(CatchUpStalledError);
    expect((error as Error).message).toMatch(
      /cannot catch up with t: nothing read for 0\.[2-9] s; partitions behind: 0 at nothing read of 5; never joined its group/,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    // two tries, two groups, each left and deleted
    expect(made).toHaveLength(2);
    expect(made[0].groupId).not.toBe(made[1].groupId);
    expect(made.every((c) => c.disconnected)).toBe(true);
    expect(deleted).toEqual(made.map((c) => c.groupId));
  });

  it('a group that joined without the partitions behind is a stall too; a second try that reads resolves', async () => {
    const { kafka, made } = fakeKafka(2, [{ kind: 'joins-empty' }, { kind: 'delivers', records: 2 }]);
    const applied: string[] = [];
    const follower = await followTopic(kafka, 't', 'g', (m) => void applied.push(m.offset), { stallMs: 200 });
    expect(applied).toEqual(['0', '1']);
    expect(made).toHaveLength(2);
    expect(made[0].disconnected).toBe(true);
    expect(made[1].disconnected).toBe(false);
    await follower.stop();
  });

  it('attempts: 1 gives up after the first stall', async () => {
    const { kafka, made } = fakeKafka(1, [{ kind: 'joins-empty' }, { kind: 'delivers', records: 1 }]);
    const error = await followTopic(kafka, 't', 'g', () => undefined, { stallMs: 150, attempts: 1 }).catch(
      (e: Error) => e,
    );
    expect((error as Error).message).toMatch(/joined 0\.\d s ago with partitions \[\]/);
    expect(made).toHaveLength(1);
  });
});

describe('CatchUp', () => {
  it('is done only once started and every partition reached its end; records past it change nothing', async () => {
    const c = new CatchUp(
      't',
      new Map([
        [0, 2n],
        [1, 1n],
      ]),
    );
    let done = false;
    void c.done.then(() => (done = true));
    c.reached(0, 2n);
    c.reached(1, 1n);
    await Promise.resolve();
    expect(c.caughtUp).toBe(true);
    expect(done).toBe(false);
    c.started();
    await c.done;
    expect(done).toBe(true);
  });

  it('nothing to read: done as soon as started', async () => {
    const c = new CatchUp('t', new Map());
    c.started();
    await expect(c.done).resolves.toBeUndefined();
  });

  it('warns at half the stall time with what it saw, and progress restarts the clock', async () => {
    let now = 0;
    const warnings: string[] = [];
    const logger = { warn: (m: string) => warnings.push(m) } as never;
    const c = new CatchUp('t', new Map([[0, 10n]]), { stallMs: 200, logger, now: () => now });
    const consumer = new EventEmitter() as unknown as Consumer & EventEmitter;
    Object.assign(consumer, { events: EVENTS });
    c.watch(consumer);
    c.started();
    now = 150;
    c.reached(0, 4n); // progress at 150
    now = 340; // 190 ms idle: warned, not failed
    await new Promise((r) => setTimeout(r, 120));
    expect(warnings).toEqual([
      'catching up with t: nothing read for 0.2 s; partitions behind: 0 at 4 of 10; never joined its group',
    ]);
    now = 360; // 210 ms idle: failed
    await expect(c.done).rejects.toThrow(
      /cannot catch up with t: nothing read for 0\.2 s; partitions behind: 0 at 4 of 10/,
    );
  });

  it("a consumer that crashed and will not restart fails at once, with kafkajs' reason", async () => {
    const c = new CatchUp('t', new Map([[0, 1n]]), { stallMs: 60_000 });
    const consumer = new EventEmitter() as unknown as Consumer & EventEmitter;
    Object.assign(consumer, { events: EVENTS });
    c.watch(consumer);
    consumer.emit(EVENTS.CRASH, { payload: { error: new Error('The group is rebalancing'), restart: true } });
    consumer.emit(EVENTS.CRASH, { payload: { error: new Error('Not authorized'), restart: false } });
    await expect(c.done).rejects.toThrow(
      /its consumer crashed and will not restart: Not authorized \(restart: false\).*crashed: Not authorized/,
    );
  });
});
