import { randomBytes } from 'node:crypto';
import type { INestApplicationContext } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Producer } from 'kafkajs';
import { NO_INTERCOM_API } from '@iks/directory';
import { ErasureModule, openShared, sharedSubjects, SubjectKeys } from '@iks/erasure';
import {
  AvroCodec,
  createKafka,
  deadLetterFromAvro,
  deletionFromAvro,
  eventFromAvro,
  notificationFromAvro,
  PRODUCER,
} from '@iks/kafka';
import { createContext } from '@iks/ops';
import { createTransformerRunner, type TransformerRunner } from '@iks/transformer';
import { runDlqCommand } from '../../apps/cli/src/commands/dlq.command';
import { runErase } from '../../apps/cli/src/commands/erase.command';
import { runReplayCommand } from '../../apps/cli/src/commands/replay.command';
import { createIngestApp } from '../../apps/ingest/src/ingest.app';
import { sign } from '../../apps/ingest/src/webhook/signature';
import { generateDataset, startIntercomEmulator } from '../../tools/intercom-emulator/src';
import { fixture, TopicTap, topicOf } from '../support/raw-topic';
import { freshConfig } from '../support/test-config';
import { waitFor } from '../support/wait-for';

const SECRET = 'erasure-client-secret';
const ADA = '6571f0a1b2c3d4e5f6a7b8c9';
const GRACE = '6571f0a1b2c3d4e5f6a7b8d1';
/** What the fixtures say of Ada and Grace: none of it may be readable in the raw topics. */
const PERSONAL = [
  'ada@example.com',
  '+44 7911 123456',
  'Ada Lovelace',
  'Lovelace',
  'grace@example.org',
  'Grace Brewster Hopper',
  'Brewster',
];

function capture() {
  const out: string[] = [];
  return { io: { stdout: (l: string) => void out.push(l), stderr: (l: string) => void out.push(l) }, out };
}

/**
 * docs/ERASURE.md, the raw topic's row, through the real ingest app, broker and transformer:
 * ingest writes each webhook's body sealed for the people it names; the transformer opens it and
 * maps it as before (the same unique_ids); once one of them is erased, her records (in the raw,
 * retry and dead-letter topics) are unreadable and a replay from the beginning passes over them
 * as `erased` (exit 0, nothing re-created, no dead letter).
 */
describe('raw bodies sealed for the people they name (#24): ingest seals, the transformer opens, an erased one is skipped', () => {
  jest.setTimeout(180_000);
  const ring = `r1:${randomBytes(32).toString('base64')}`;
  const config = freshConfig('ingest', { INTERCOM_CLIENT_SECRET: SECRET, CONNECTION_SECRET_KEYS: ring });
  const p = config.kafka.topicPrefix;
  const shared = { TOPIC_PREFIX: p, TRANSFORMER_GROUP_ID: `${p}transformer`, CONNECTION_SECRET_KEYS: ring };
  const tconfig = freshConfig('transformer', { ...shared, CONTACT_RETRY_INITIAL_MS: '200' });
  const cliConfig = freshConfig('cli', shared);
  const kafka = createKafka(config.kafka);
  const codec = new AvroCodec(config.kafka);
  const tap = new TopicTap(kafka, codec, `${p}tap`);
  const T = {
    raw: topicOf(config, 'notifications'),
    retry: topicOf(config, 'notificationsRetry'),
    rawDlq: `${topicOf(config, 'notifications')}.dlq`,
    events: topicOf(config, 'events'),
    deletions: topicOf(config, 'deletions'),
  };
  let app: NestFastifyApplication;
  let runner: TransformerRunner | undefined;
  /** A third process with the people's keys (an operator's), to open and to erase. */
  let operator: INestApplicationContext;
  let keys: SubjectKeys;

  const post = (body: string) =>
    app.inject({
      method: 'POST',
      url: '/webhooks/intercom',
      payload: body,
      headers: { 'content-type': 'application/json', 'x-hub-signature': sign(body, SECRET) },
    });

  beforeAll(async () => {
    app = await createIngestApp(config, false);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    await codec.registerAll();
    await tap.start(Object.values(T));
    operator = await createContext(cliConfig, 'cli', ErasureModule);
    await operator.get(AvroCodec).registerAll();
    await operator.get<Producer>(PRODUCER).connect();
    keys = operator.get(SubjectKeys);
    await keys.start();
  });
  afterAll(async () => {
    await tap.stop();
    await runner?.stop();
    await keys?.stop();
    await operator?.get<Producer>(PRODUCER).disconnect();
    await operator?.close();
    await app?.close();
  });

  it('seals at ingest, maps the same events, and after one erasure a replay passes over her records as erased', async () => {
    const names = [
      'contact.user.created', // Ada
      'conversation.user.created', // Ada
      'conversation.user.replied', // Ada
      'contact.user.updated', // Grace
      'ticket.created', // Grace (may wait in the retry topic until contact.user.updated made her known)
      'conversation.user.created.legacy_1_x', // Ada, a 1.x payload: dead-lettered at once
      'contact.unsubscribed.no_contact', // names no one: stays clear
    ];
    const bodies = new Map(names.map((n) => [n, JSON.stringify(fixture(n))]));
    for (const [n, body] of bodies) expect({ n, status: (await post(body)).statusCode }).toEqual({ n, status: 200 });

    // 1. the raw topic: the bodies naming someone are sealed for exactly them; none of their data is readable
    const raw = await waitFor(() => tap.of(T.raw).length >= names.length && tap.of(T.raw), { what: 'the raw records' });
    const records = raw.map((r) => ({ bytes: r.raw.value!, n: notificationFromAvro(r.value) }));
    const byName = new Map(records.map((r) => [nameOf(r.n.notification_id), r]));
    expect([...byName.keys()].sort()).toEqual([...names].sort());
    for (const { bytes, n } of records) {
      const name = nameOf(n.notification_id);
      for (const needle of PERSONAL)
        expect({ name, needle, found: bytes.includes(Buffer.from(needle)) }).toEqual({ name, needle, found: false });
      if (name === 'contact.unsubscribed.no_contact') {
        expect(n.body_sealed).toBeUndefined();
        expect(n.body).toBe(bodies.get(name));
        continue;
      }
      expect(n.body).toBe('');
      const who = ['contact.user.updated', 'ticket.created'].includes(name) ? GRACE : ADA;
      expect({ name, subjects: sharedSubjects(n.body_sealed!) }).toEqual({
        name,
        subjects: [{ connectionId: 'default', contactId: who }],
      });
      // what ingest sealed is the body byte for byte, as it was stored clear before
      expect((await openShared(keys, n.body_sealed!)).equals(Buffer.from(bodies.get(name)!, 'utf8'))).toBe(true);
    }

    // 2. the transformer opens them and maps as before: the same unique_ids (libs/transformer/src/__fixtures__)
    runner = await createTransformerRunner(tconfig, { intercomSource: NO_INTERCOM_API });
    await runner.start();
    const expected = [
      'intercom:conversation:1911149811:created',
      'intercom:conversation:1911149811:part:30123405',
      'intercom:ticket:2189:created',
    ];
    const events = await waitFor(() => tap.of(T.events).length >= 3 && tap.of(T.events), {
      what: 'three events',
      timeoutMs: 30_000,
    });
    expect(events.map((e) => eventFromAvro(e.value).unique_id).sort()).toEqual(expected);
    expect(events.find((e) => eventFromAvro(e.value).intercom_contact_id === ADA)).toBeDefined();
    const letters = await waitFor(() => tap.of(T.rawDlq).length >= 1 && tap.of(T.rawDlq), { what: 'the 1.x letter' });
    expect(letters).toHaveLength(1);
    const letter = deadLetterFromAvro(letters[0].value);
    expect(letter.error_message).toMatch(/pre-2\.0 API shape/);
    // the dead letter and the retry topic carry the sealed bytes, not the clear body
    for (const r of [...tap.of(T.rawDlq), ...tap.of(T.retry)])
      for (const needle of PERSONAL)
        expect({ at: r.raw.offset, needle, found: r.raw.value!.includes(Buffer.from(needle)) }).toEqual({
          at: r.raw.offset,
          needle,
          found: false,
        });
    expect((await codec.decodeAs('notifications', Buffer.from(letter.value!))).body_sealed).toBeDefined();
    const dlq = capture();
    expect(await runDlqCommand(['list', 'intercom.notifications.v1'], cliConfig, dlq.io)).toBe(0);
    expect(dlq.out.join('\n')).toContain('pre-2.0 API shape');
    for (const needle of PERSONAL) expect(dlq.out.join('\n')).not.toContain(needle);

    // the deletion requests: Intercom's contact.deleted of Ada and an operator's erase by email,
    // sealed like any body naming a person, mapped while their keys exist (docs/ERASURE.md)
    expect((await post(JSON.stringify(fixture('contact.deleted')))).statusCode).toBe(200);
    const erase = capture();
    expect(
      await runErase(
        { connectionId: 'default', contactId: null, email: 'zoe@example.com', phone: null, yes: true },
        cliConfig,
        erase.io,
      ),
    ).toBe(0);
    const deletions = await waitFor(() => tap.of(T.deletions).length >= 2 && tap.of(T.deletions), {
      what: 'two deletion requests',
      timeoutMs: 30_000,
    });
    expect(deletions.map((d) => deletionFromAvro(d.value).intercom_contact_id)).toEqual(
      expect.arrayContaining([ADA, expect.stringMatching(/^operator-/)]),
    );
    const requests = tap
      .of(T.raw)
      .slice(names.length)
      .map((r) => ({ bytes: r.raw.value!, n: notificationFromAvro(r.value) }));
    expect(requests.map((r) => r.n.topic)).toEqual(['contact.deleted', 'contact.deleted']);
    const operator = requests.find((r) => r.n.source === 'operator')!;
    expect(operator.bytes.includes(Buffer.from('zoe@example.com'))).toBe(false);
    expect(sharedSubjects(operator.n.body_sealed!)).toEqual([
      { connectionId: 'default', contactId: expect.stringMatching(/^operator-/) },
    ]);
    for (const needle of PERSONAL) expect(requests.some((r) => r.bytes.includes(Buffer.from(needle)))).toBe(false);
    await runner.stop();
    runner = undefined;

    // 3. Ada is erased (as the sink does once Klaviyo accepted her deletion): her bodies no longer open
    const adaRecord = byName.get('contact.user.created')!;
    await keys.erase({ connectionId: 'default', contactId: ADA });
    await expect(openShared(keys, adaRecord.n.body_sealed!)).rejects.toThrow('erased');
    // dlq reprocess sends the sealed letter back as it is: the same bytes into the raw topic
    const reprocess = capture();
    expect(await runDlqCommand(['reprocess', 'intercom.notifications.v1', '--yes'], cliConfig, reprocess.io)).toBe(0);
    const copy = await waitFor(() => tap.of(T.raw).length > names.length + 2 && tap.of(T.raw)[names.length + 2], {
      what: 'the reprocessed letter in the raw topic',
    });
    expect(copy.raw.value!.equals(Buffer.from(letter.value!))).toBe(true);
    const eventsBefore = tap.of(T.events).length;
    const lettersBefore = tap.of(T.rawDlq).length;

    // 4. a replay from the beginning: exit 0, Ada's records passed over as erased, Grace's mapped again
    const replay = capture();
    const code = await runReplayCommand(
      ['--topic', 'intercom.notifications.v1', '--from-beginning', '--yes'],
      cliConfig,
      replay.io,
      { intercomSource: NO_INTERCOM_API, pollMs: 100 },
    );
    expect({ code, out: replay.out }).toEqual({ code: 0, out: expect.anything() });
    // Ada's 2.x records, her 1.x one and its reprocessed copy, her contact.deleted: unreadable,
    // skipped, not dead-lettered (Klaviyo deleted her already); the operator's request for Zoe maps again
    expect(replay.out.join('\n')).toContain('0 dead-lettered, 6 skipped as erased');
    const replayed = await waitFor(
      () => tap.of(T.events).length > eventsBefore && tap.of(T.events).slice(eventsBefore),
      {
        what: "Grace's event mapped again",
        timeoutMs: 30_000,
      },
    );
    await new Promise((r) => setTimeout(r, 1000));
    const again = tap
      .of(T.events)
      .slice(eventsBefore)
      .map((e) => eventFromAvro(e.value));
    expect(replayed.length).toBeGreaterThan(0);
    expect(again.map((e) => e.unique_id)).toEqual(['intercom:ticket:2189:created']);
    expect(again.every((e) => e.intercom_contact_id === GRACE)).toBe(true);
    expect(tap.of(T.rawDlq)).toHaveLength(lettersBefore);
    for (const needle of PERSONAL.slice(0, 4)) expect(replay.out.join('\n')).not.toContain(needle);

    function nameOf(notificationId: string): string {
      for (const [n, body] of bodies) if ((JSON.parse(body) as { id: string }).id === notificationId) return n;
      throw new Error(`no fixture has notification ${notificationId}`);
    }
  });

  it('erase --email looks her contact id up in the workspace (POST /contacts/search) and seals the request under it', async () => {
    const intercom = await startIntercomEmulator({ port: 0, dataset: generateDataset({ seed: 24, contacts: 3 }) });
    try {
      const person = intercom.dataset.contacts.find((c) => c.email)!;
      const withApi = freshConfig('cli', {
        ...shared,
        INTERCOM_ACCESS_TOKEN: intercom.accessToken,
        INTERCOM_BASE_URL: intercom.url,
      });
      const erase = capture();
      const before = tap.of(T.raw).length;
      expect(
        await runErase(
          { connectionId: 'default', contactId: null, email: person.email!, phone: null, yes: true },
          withApi,
          erase.io,
        ),
      ).toBe(0);
      expect(erase.out.join('\n')).toContain(`contact ${person.id} (Intercom's for that email)`);
      expect(intercom.requests.some((r) => r.method === 'POST' && r.path.startsWith('/contacts/search'))).toBe(true);
      const written = await waitFor(() => tap.of(T.raw).length > before && tap.of(T.raw)[before], {
        what: "the operator's request",
      });
      const n = notificationFromAvro(written.value);
      expect({ source: n.source, subjects: sharedSubjects(n.body_sealed!) }).toEqual({
        source: 'operator',
        subjects: [{ connectionId: 'default', contactId: person.id }],
      });
      expect(written.raw.value!.includes(Buffer.from(person.email!))).toBe(false);
    } finally {
      await intercom.close();
    }
  });
});
