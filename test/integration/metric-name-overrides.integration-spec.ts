import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IntercomSource } from '@iks/directory';
import { AvroCodec, createKafka } from '@iks/kafka';
import { createSinkRunner, type SinkRunner } from '@iks/sink';
import { createTransformerRunner, type TransformerRunner } from '@iks/transformer';
import { startKlaviyoEmulator, type KlaviyoEmulator } from '../../tools/klaviyo-emulator/src';
import { FIXTURES, fixture, produceRaw, rawFromEnvelope } from '../support/raw-topic';
import { testConfig } from '../support/test-config';
import { waitFor } from '../support/wait-for';

const API_KEY = 'pk_test_overrides_0123456789';

const fixtureFile = (name: string): unknown => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'));
/** What the source's method answers, which the fixture file holds. */
type Answer<M extends Exclude<keyof IntercomSource, 'enabled'>> = Awaited<ReturnType<IntercomSource[M]>>;

/** Intercom's REST API as the mapping fixtures describe the workspace (contacts, admins, teams, tags). */
const FIXTURE_INTERCOM: IntercomSource = {
  enabled: true,
  getContact: async (id) =>
    (fixtureFile('contacts.json') as NonNullable<Answer<'getContact'>>[]).find((c) => c.id === id),
  getContactSubscriptions: async (id) =>
    (fixtureFile('subscriptions.json') as Record<string, Answer<'getContactSubscriptions'>>)[id] ?? [],
  listAdmins: async () => fixtureFile('admins.json') as Answer<'listAdmins'>,
  listTeams: async () => fixtureFile('teams.json') as Answer<'listTeams'>,
  listTags: async () => fixtureFile('tags.json') as Answer<'listTags'>,
};

// The seam between the variable and the mapping: METRIC_NAME_OVERRIDES is written with the
// display names the README documents, and the rename must show in what Klaviyo stores.
describe('METRIC_NAME_OVERRIDES from the environment to Klaviyo (real broker, Klaviyo emulator)', () => {
  let emulator: KlaviyoEmulator;
  let transformer: TransformerRunner | undefined;
  let sink: SinkRunner | undefined;

  beforeEach(async () => {
    emulator = await startKlaviyoEmulator({ port: 0 });
  });
  afterEach(async () => {
    await sink?.stop();
    await transformer?.stop();
    await emulator.close();
  });

  it('a resolved ticket is stored under the overridden metric name; a metric not overridden keeps its name', async () => {
    const config = testConfig('cli', {
      METRIC_NAME_OVERRIDES: '{"Ticket Resolved":"Support Ticket Closed"}',
      KLAVIYO_API_KEY: API_KEY,
      KLAVIYO_BASE_URL: emulator.url,
      SINK_BATCH_MAX_WAIT_MS: '50',
      SINK_RETRY_MAX_MS: '60000',
    });
    transformer = await createTransformerRunner(config, { intercomSource: FIXTURE_INTERCOM });
    await transformer.start();
    sink = await createSinkRunner(config);
    await sink.start();

    const kafka = createKafka(config.kafka);
    const codec = new AvroCodec(config.kafka);
    await codec.registerAll();
    await produceRaw(kafka, codec, config, [
      rawFromEnvelope(fixture('ticket.created')),
      rawFromEnvelope(fixture('ticket.resolved')),
    ]);

    const events = await waitFor(() => emulator.store.events.length >= 2 && emulator.store.events, {
      what: 'two events in the emulator',
      timeoutMs: 60_000,
    });
    const byId = new Map(events.map((e) => [e.unique_id, e]));
    expect(byId.get('intercom:ticket:2189:state:resolved:1764086400')).toMatchObject({
      metric: 'Support Ticket Closed',
      profile: { email: 'grace@example.org' },
      properties: { 'Ticket ID': '2189' },
    });
    expect(byId.get('intercom:ticket:2189:created')).toMatchObject({
      metric: 'Ticket Created',
      profile: { email: 'grace@example.org' },
    });
    expect(events.map((e) => e.metric)).not.toContain('Ticket Resolved');
  });
});
