/**
 * Issue #10 item 3 through the whole pipeline: the Intercom emulator's identifierConflict scenario
 * (Ada and Bob created with their own phones, then Ada takes Bob's) as signed webhooks, then a
 * conversation of each. At Klaviyo: two profiles, each person's events on their own, nothing
 * dead-lettered; a `replay --group` of profiles and events adds nothing.
 */
import { PHONE_DROPPED_NOTE } from '@iks/klaviyo';
import { runReplayCommand } from '../../apps/cli/src/commands/replay.command';
import type { IntercomContact } from '@iks/intercom';
import { contactNotification, conversationLifecycle, generateDataset } from '../../tools/intercom-emulator/src';
import { waitFor } from '../support/wait-for';
import { Pipeline } from './pipeline-harness';

const dataset = generateDataset({ seed: 11, contacts: 3, conversations: 0, tickets: 0, identifierConflict: true });
const { before: ada, holder: bob, after: adaWithBobsPhone } = dataset.identifierConflict!;
const silentIo = { stdout: () => undefined, stderr: () => undefined };

describe('e2e: identifier conflicts (Intercom emulator scenario → Klaviyo emulator)', () => {
  let pipeline: Pipeline;
  beforeAll(async () => {
    pipeline = await Pipeline.start({ dataset });
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  it("one profile per person, each person's events on it, no dead letter; replay --group adds nothing", async () => {
    const store = pipeline.klaviyo.store;
    await pipeline.deliver([
      contactNotification('contact.user.created', ada),
      contactNotification('contact.user.created', bob),
    ]);
    await waitFor(() => store.profiles().length === 2, { what: "Ada's and Bob's profiles", timeoutMs: 60_000 });
    await pipeline.deliver([contactNotification('contact.user.updated', adaWithBobsPhone)]);
    await waitFor(() => pipeline.sink.tally.noteCount(PHONE_DROPPED_NOTE) === 1, {
      what: "Ada's update, without Bob's phone",
      timeoutMs: 60_000,
    });

    const startAt = Math.floor(Date.now() / 1000) - 7200;
    const conversation = (contact: IntercomContact, id: string) =>
      conversationLifecycle({ contact, admin: dataset.admins[0], startAt, id });
    await pipeline.deliver([...conversation(adaWithBobsPhone, '910001'), ...conversation(bob, '910002')]);
    await waitFor(() => store.eventsStored === 8, { what: 'the 8 conversation events', timeoutMs: 60_000 });

    expect(store.statusCounts['409']).toBe(1);
    expect(store.profiles()).toHaveLength(2);
    const adaProfile = store.findProfile({ email: ada.email })!;
    const bobProfile = store.findProfile({ email: bob.email })!;
    expect([adaProfile.phone_number, bobProfile.phone_number]).toEqual(['+12025550101', '+12025550102']);
    const conversationsOn = (profileId: string) => [
      ...new Set(store.events.filter((e) => e.profileId === profileId).map((e) => e.unique_id.split(':')[2])),
    ];
    expect(conversationsOn(adaProfile.id)).toEqual(['910001']);
    expect(conversationsOn(bobProfile.id)).toEqual(['910002']);
    expect(pipeline.transformer.tally.count('dead_letter')).toBe(0);
    expect(pipeline.sink.tally.count('dead_letter')).toBe(0);

    // replay --group: stop the sink, reset its group on profiles and events, start it again
    const group = pipeline.configs.sink.sink.groupId;
    await pipeline.sink.stop();
    for (const topic of ['klaviyo.profiles.v1', 'klaviyo.events.v1']) {
      expect(
        await runReplayCommand(
          ['--topic', topic, '--from-beginning', '--group', group, '--yes'],
          pipeline.config('cli'),
          silentIo,
        ),
      ).toBe(0);
    }
    const again = await pipeline.startSink({}, {});
    await waitFor(() => store.duplicateEventsIgnored >= 8 && again.tally.noteCount(PHONE_DROPPED_NOTE) === 1, {
      what: 'the replay at Klaviyo',
      timeoutMs: 60_000,
    });
    expect(store.eventsStored).toBe(8);
    expect(store.duplicateEventsIgnored).toBe(8);
    expect(store.profiles()).toHaveLength(2);
    expect(again.tally.count('dead_letter')).toBe(0);
  });
});
