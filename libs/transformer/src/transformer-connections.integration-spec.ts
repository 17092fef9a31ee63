import { StaticConnections, defaultConnectionFromConfig } from '@iks/connections';
import { NO_INTERCOM_API } from '@iks/directory';
import {
  AvroCodec,
  contactFromAvro,
  createKafka,
  deadLetterFromAvro,
  dlqName,
  eventFromAvro,
  profileFromAvro,
} from '@iks/kafka';
import { testConnection } from '../../../test/support/connections';
import { fixture, produceRaw, rawFromEnvelope, TopicTap, topicOf } from '../../../test/support/raw-topic';
import { subjectKeysReader, type SubjectKeysReader } from '../../../test/support/subject-keys';
import { testConfig } from '../../../test/support/test-config';
import { waitFor } from '../../../test/support/wait-for';
import type { TransformerRunner } from './transformer.runner';
import { createTransformerRunner } from './transformer-stage.module';

const ADA = '6571f0a1b2c3d4e5f6a7b8c9';

/** Issue #22 "Every record carries its connection", through the real broker. */
describe('transformer: two workspaces with the same contact id, each its own connection', () => {
  const config = testConfig('transformer', { CONTACT_RETRY_INITIAL_MS: '300', CONTACT_WAIT_MAX_MS: '3000' });
  const kafka = createKafka(config.kafka);
  const codec = new AvroCodec(config.kafka);
  const connections = new StaticConnections([
    defaultConnectionFromConfig(config),
    testConnection('acme', 'ws-acme'),
    testConnection('globex', 'ws-globex', {
      settings: { metricNames: { conversationCreated: 'Globex Chat Started' } },
    }),
    testConnection('gone', 'ws-gone', { status: 'removed' }),
  ]);
  const T = {
    events: topicOf(config, 'events'),
    profiles: topicOf(config, 'profiles'),
    contacts: topicOf(config, 'contacts'),
    rawDlq: dlqName(topicOf(config, 'notifications')),
  };
  const tap = new TopicTap(kafka, codec, `${config.kafka.topicPrefix}tap`);
  let runner: TransformerRunner;
  /** Opens the records' sealed personal fields (docs/ERASURE.md). */
  let reader: SubjectKeysReader;

  beforeAll(async () => {
    runner = await createTransformerRunner(config, {
      intercomSource: NO_INTERCOM_API,
      intercomSourceFor: () => NO_INTERCOM_API,
      connections,
    });
    await runner.start();
    await codec.registerAll();
    reader = await subjectKeysReader(config);
    await tap.start(Object.values(T));
  });
  afterAll(async () => {
    await tap.stop();
    await reader?.close();
    await runner?.stop();
  });

  it('maps each with its own contact and settings, tags and keys every record; an unknown or removed connection is dead-lettered', async () => {
    const contactIn = (email: string) => {
      const c = fixture('contact.user.created');
      c.data.item.email = email;
      return c;
    };
    const tagged = (envelope: unknown, connection_id?: string) => ({
      ...rawFromEnvelope(envelope),
      ...(connection_id ? { connection_id } : {}),
    });
    const conversation = fixture('conversation.user.created');
    await produceRaw(kafka, codec, config, [
      tagged(contactIn('ada@acme.example'), 'acme'),
      tagged(contactIn('ada@globex.example'), 'globex'),
      tagged(conversation, 'acme'),
      tagged(conversation, 'globex'),
      tagged(conversation, 'ghost'),
      tagged(conversation, 'gone'),
    ]);

    const events = await waitFor(() => tap.of(T.events).length >= 2 && tap.of(T.events), { what: 'two events' });
    const byConnection = new Map(
      await Promise.all(events.map(async (e) => [e.key, await reader.open(eventFromAvro(e.value))] as const)),
    );
    expect([...byConnection.keys()].sort()).toEqual([`acme/${ADA}`, `globex/${ADA}`]);
    expect(byConnection.get(`acme/${ADA}`)).toMatchObject({
      connection_id: 'acme',
      metric: 'Conversation Created',
      profile: { email: 'ada@acme.example' },
    });
    expect(byConnection.get(`globex/${ADA}`)).toMatchObject({
      connection_id: 'globex',
      metric: 'Globex Chat Started',
      profile: { email: 'ada@globex.example' },
    });
    expect(byConnection.get(`acme/${ADA}`)!.unique_id).toBe(byConnection.get(`globex/${ADA}`)!.unique_id);

    const profiles = await waitFor(() => tap.of(T.profiles).length >= 2 && tap.of(T.profiles), { what: 'profiles' });
    const opened = await Promise.all(
      profiles.map(async (p) => [p.key, await reader.open(profileFromAvro(p.value))] as const),
    );
    expect(opened.map(([key, p]) => [key, p.email, p.connection_id]).sort()).toEqual([
      [`acme/${ADA}`, 'ada@acme.example', 'acme'],
      [`globex/${ADA}`, 'ada@globex.example', 'globex'],
    ]);
    const contacts = await waitFor(() => tap.of(T.contacts).length >= 2 && tap.of(T.contacts), { what: 'snapshots' });
    expect(contacts.map((c) => [c.key, contactFromAvro(c.value).connection_id]).sort()).toEqual([
      [`acme/${ADA}`, 'acme'],
      [`globex/${ADA}`, 'globex'],
    ]);
    // each snapshot sealed under its own connection's subject: it opens to that workspace's contact
    const snapshots = await Promise.all(contacts.map((c) => reader.open(contactFromAvro(c.value))));
    expect(contacts.every((c) => c.value.contact_json === null)).toBe(true);
    expect(snapshots.map((c) => [c.connection_id, JSON.parse(c.contact_json!).email]).sort()).toEqual([
      ['acme', 'ada@acme.example'],
      ['globex', 'ada@globex.example'],
    ]);

    const letters = await waitFor(() => tap.of(T.rawDlq).length >= 2 && tap.of(T.rawDlq), { what: 'two dead letters' });
    const reasons = letters.map((l) => deadLetterFromAvro(l.value));
    expect(reasons.map((l) => l.error_class)).toEqual(['UnknownConnectionError', 'UnknownConnectionError']);
    expect(reasons[0].error_message).toMatch(/connection "ghost", which is not in the connections directory/);
    expect(reasons[1].error_message).toMatch(/connection "gone", which was removed/);
    expect(tap.of(T.events)).toHaveLength(2);
  });
});
