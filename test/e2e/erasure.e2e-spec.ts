/**
 * Issue #24, docs/ERASURE.md: a person's day of webhooks through the whole pipeline (ingest,
 * transformer, sink, console, in-process on the real broker with the emulators), then her
 * contact.deleted. Once Klaviyo has the deletion request, nothing of her email, phone, name or
 * custom attributes is found anywhere the pipeline keeps data: every topic of the run (all
 * partitions, from the beginning, as raw bytes and decoded with the registry, sealed fields
 * opened with the run's keys where they still open), the console's pages, `cli dlq list` and the
 * local stores (the transformer's directory, the sink's deleted set). Then a replay of every
 * replayable topic from the beginning exits 0 and adds nothing for her in Klaviyo.
 */
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { KafkaMessage } from 'kafkajs';
import { ErasedSubjectError, openShared } from '@iks/erasure';
import type { IntercomContact } from '@iks/intercom';
import { AvroCodec, createKafka, topicName } from '@iks/kafka';
import {
  contactDeletedNotification,
  contactNotification,
  conversationLifecycle,
  makeAdmin,
  makeContact,
  makeTeam,
  type Dataset,
} from '../../tools/intercom-emulator/src';
import { createConsoleApp } from '../../apps/console/src/console.app';
import { ConsoleService } from '../../apps/console/src/console.service';
import { runDlqCommand } from '../../apps/cli/src/commands/dlq.command';
import { runReplayCommand } from '../../apps/cli/src/commands/replay.command';
import { scanTopics } from '../support/secret-scan';
import { subjectKeysReader, type SubjectKeysReader } from '../support/subject-keys';
import { waitFor } from '../support/wait-for';
import { Pipeline } from './pipeline-harness';

jest.setTimeout(300_000);

const NOW = Math.floor(Date.now() / 1000);
const T0 = NOW - 86400;
const APP_ID = 'e2eerase';

const admin = makeAdmin({ id: '991260201', name: 'Margaret Hamilton', email: 'margaret.hamilton@support.example.com' });
const team = makeTeam({ id: '5017901', name: 'Escalations', adminIds: [Number(admin.id)] });

/** The person who is deleted: every value below is hers alone, searched for everywhere afterwards. */
const hedy: IntercomContact = makeContact({
  id: '6762f0d0cccc000000000042',
  role: 'user',
  email: 'hedy.kiesler@erasure.example.com',
  phone: '+1 415 555 0199',
  name: 'Hedy Lamarr',
  location: { country: 'Austria', region: 'Wien', city: 'Lamarrstadt' },
  customAttributes: { invention: 'frequency-hopping-7731', loyalty_code: 'HEDY-LOYAL-4242' },
  createdAt: T0 - 86400,
  updatedAt: T0 - 86400,
});
const HER = [
  'hedy.kiesler@erasure.example.com',
  '+14155550199',
  '+1 415 555 0199',
  'Hedy Lamarr',
  'Lamarr',
  'frequency-hopping-7731',
  'HEDY-LOYAL-4242',
];
/** Someone else, who stays: the scans must find him where the pipeline keeps him (they are not blind). */
const alan: IntercomContact = makeContact({
  id: '6762f0d0cccc000000000043',
  role: 'user',
  email: 'alan.turing@erasure.example.com',
  phone: '+1 415 555 0142',
  name: 'Alan Turing',
  customAttributes: { invention: 'bombe-machine-1939' },
  createdAt: T0 - 86400,
  updatedAt: T0 - 86400,
});

const dataset: Dataset = {
  appId: APP_ID,
  admins: [admin],
  teams: [team],
  tags: [],
  subscriptionTypes: [],
  ticketTypes: [],
  contacts: [hedy, alan],
  contactSubscriptions: { [hedy.id]: [], [alan.id]: [] },
  conversations: [],
  tickets: [],
};

const hers = conversationLifecycle({ contact: hedy, admin, team, startAt: T0, appId: APP_ID, id: '737373', rating: 5 });
const his = conversationLifecycle({ contact: alan, admin, team, startAt: T0, appId: APP_ID, id: '747474', rating: 4 });
/** One of her events Klaviyo refuses: it is dead-lettered (klaviyo.events.v1.dlq keeps its bytes). */
const REFUSED = 'intercom:conversation:737373:created';

/** Which of `needles` a text holds. */
const found = (text: string, needles: readonly string[]) => needles.filter((n) => text.includes(n));

/**
 * A search page without the search itself: `/person?q=<her email>` echoes what was typed into
 * its box and its "nothing found for" line (the reader's own input, not data the console keeps).
 */
function withoutQuery(path: string, html: string): string {
  const q = path.startsWith('/person?q=') ? path.slice('/person?q='.length) : '';
  if (!q) return html;
  const escaped = q.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&#34;');
  return html
    .split(`value="${escaped}"`)
    .join('value=""')
    .split(`nothing found for ${escaped}`)
    .join('nothing found for');
}

/** Every file under a folder, as bytes (latin1: any byte sequence stays searchable). */
function filesOf(dir: string): Array<{ path: string; text: string }> {
  const out: Array<{ path: string; text: string }> = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesOf(path));
    else out.push({ path, text: readFileSync(path).toString('latin1') });
  }
  return out;
}

describe('e2e: a deleted person is gone from every topic, page, CLI output and local store (docs/ERASURE.md)', () => {
  let pipeline: Pipeline;
  let consoleApp: NestFastifyApplication;
  let consoleUrl: string;
  let reader: SubjectKeysReader;

  beforeAll(async () => {
    pipeline = await Pipeline.start({ dataset });
    consoleApp = await createConsoleApp(
      pipeline.config('cli', { CONSOLE_SINK_METRICS_URLS: 'http://127.0.0.1:9/metrics' }),
      false,
    );
    await consoleApp.listen(0, '127.0.0.1');
    consoleUrl = `http://127.0.0.1:${(consoleApp.getHttpServer().address() as { port: number }).port}`;
    reader = await subjectKeysReader(pipeline.config('cli'));
  }, 120_000);
  afterAll(async () => {
    await reader?.close().catch(() => undefined);
    await consoleApp?.close().catch(() => undefined);
    await pipeline?.stop();
  }, 60_000);

  const page = async (path: string) => (await fetch(`${consoleUrl}${path}`)).text();
  /** Every console page a reader could open: home, metrics (each metric's), people, pipeline, each dead letter, gaps. */
  async function consolePages(): Promise<Map<string, string>> {
    const pages = new Map<string, string>();
    for (const p of ['/', '/metrics', '/pipeline', '/gaps', '/api/status', `/person?q=${hedy.id}`])
      pages.set(p, await page(p));
    for (const q of HER.slice(0, 3)) pages.set(`/person?q=${q}`, await page(`/person?q=${encodeURIComponent(q)}`));
    for (const m of pipeline.klaviyo.store.metrics())
      pages.set(`/metrics?metric=${m.name}`, await page(`/metrics?metric=${encodeURIComponent(m.name)}`));
    for (const href of new Set(
      [...pages.get('/pipeline')!.matchAll(/href="(\/dead-letters\/[^"]+)"/g)].map((x) => x[1]),
    ))
      pages.set(href, await page(href.replace(/&amp;/g, '&')));
    return pages;
  }

  /** `cli dlq list` (text and --json) of every topic with a dead-letter topic. */
  async function dlqOutputs(): Promise<string> {
    const out: string[] = [];
    const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => out.push(t) };
    for (const t of ['notifications', 'notificationsRetry', 'events', 'profiles', 'deletions', 'parked'] as const) {
      const name = topicName(t, pipeline.prefix);
      expect({ name, code: await runDlqCommand(['list', name], pipeline.config('cli'), io) }).toEqual({
        name,
        code: 0,
      });
      expect(await runDlqCommand(['list', name, '--json'], pipeline.config('cli'), io)).toBe(0);
    }
    return out.join('\n');
  }

  /**
   * Every record of every topic of the run decoded with the registry (a dead letter's original
   * value too), each sealed personal field opened with the run's keys where it opens: per topic,
   * which of `needles` the decoded records show.
   */
  async function decodedScan(needles: readonly string[]): Promise<Map<string, string[]>> {
    const kafka = createKafka(pipeline.configs.ingest.kafka);
    const codec = new AvroCodec(pipeline.configs.ingest.kafka);
    const admin = kafka.admin();
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(pipeline.prefix));
    let total = 0;
    for (const t of topics) for (const p of await admin.fetchTopicOffsets(t)) total += Number(p.high) - Number(p.low);
    await admin.disconnect();
    const records: Array<{ topic: string; message: KafkaMessage }> = [];
    const consumer = kafka.consumer({ groupId: `${pipeline.prefix}erasure-decoded-scan-${Date.now()}` });
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ topic, message }) => void records.push({ topic, message }) });
    await waitFor(() => records.length >= total, { what: `all ${total} records`, timeoutMs: 60_000 });
    await consumer.disconnect();
    const hits = new Map<string, string[]>();
    const open = async (v: unknown): Promise<unknown> => {
      const r = v as Record<string, unknown> | null;
      if (r && typeof r === 'object' && Buffer.isBuffer(r.body_sealed)) {
        // a raw notification: its body sealed for the people it names (shared-seal)
        try {
          return { ...r, body_sealed: (await openShared(reader.keys, r.body_sealed)).toString('utf8') };
        } catch (e) {
          if (!(e instanceof ErasedSubjectError)) throw e;
          return { ...r, body_sealed: '(erased)' };
        }
      }
      if (!r || typeof r !== 'object' || !Buffer.isBuffer(r.personal)) return v;
      const contactId = (r.intercom_contact_id ?? r.id) as string;
      try {
        const opened = await reader.keys.open({ connectionId: String(r.connection_id), contactId }, r.personal);
        return { ...r, personal: opened.toString('utf8') };
      } catch (e) {
        if (!(e instanceof ErasedSubjectError)) throw e;
        return { ...r, personal: '(erased)' };
      }
    };
    const text = (v: unknown) =>
      JSON.stringify(v, (_k, x: unknown) =>
        typeof x === 'bigint'
          ? x.toString()
          : x && typeof x === 'object' && (x as { type?: string }).type === 'Buffer'
            ? Buffer.from((x as { data: number[] }).data).toString('latin1')
            : x,
      );
    for (const { topic, message } of records) {
      if (!message.value) continue;
      const decoded = await open(await codec.decode(message.value).catch(() => null));
      let inner: unknown = null;
      const letter = decoded as { value?: Buffer } | null;
      if (topic.endsWith('.dlq') || topic.endsWith('klaviyo.parked.v1'))
        if (letter && Buffer.isBuffer(letter.value))
          inner = await open(await codec.decode(letter.value).catch(() => null));
      const f = found(`${message.key?.toString('latin1') ?? ''}\n${text(decoded)}\n${text(inner)}`, needles);
      if (f.length > 0) hits.set(topic, [...new Set([...(hits.get(topic) ?? []), ...f])]);
    }
    return hits;
  }

  it('her day reaches Klaviyo and the console shows her (opened from the sealed records)', async () => {
    pipeline.klaviyo.faults.rejectEvent(REFUSED, { times: 100, detail: 'the event is refused for this test' });
    await pipeline.deliver([
      contactNotification('contact.user.created', hedy, { appId: APP_ID, createdAt: hedy.created_at }),
      contactNotification('contact.user.created', alan, { appId: APP_ID, createdAt: alan.created_at }),
      ...hers,
      ...his,
    ]);
    await pipeline.waitForUniqueIds(['intercom:conversation:747474:created']);
    await pipeline.quiesce();
    // her other events are in Klaviyo, the refused one is not
    expect(pipeline.events().filter((e) => e.unique_id.includes(':737373:')).length).toBeGreaterThanOrEqual(2);
    expect(pipeline.eventsWithUniqueId(REFUSED)).toHaveLength(0);
    expect(pipeline.klaviyo.store.findProfile({ email: hedy.email! })?.properties).toMatchObject({
      Intercom_custom_attributes: { invention: 'frequency-hopping-7731', loyalty_code: 'HEDY-LOYAL-4242' },
    });
    // the console opens her sealed outcomes: her email on her page
    await waitFor(async () => (await page(`/person?q=${hedy.id}`)).includes(hedy.email!), {
      what: 'her email on the console page',
      timeoutMs: 30_000,
    });
    // ingest and the transformer wrote her records sealed: no clear value of hers in any topic's bytes,
    // while the same records opened with her keys hold her (the scan sees her where she is)
    const raw = await scanTopics(createKafka(pipeline.configs.ingest.kafka), pipeline.prefix, HER);
    expect(raw.sort()).toEqual([]);
    const opened = await decodedScan(HER);
    for (const t of ['intercom.notifications.v1', 'klaviyo.events.v1', 'klaviyo.profiles.v1'])
      expect(opened.get(`${pipeline.prefix}${t}`)).toEqual(expect.arrayContaining([hedy.email!]));
  });

  it('after her deletion reached Klaviyo: no topic, page, CLI output or local store holds her email, phone, name or custom attributes', async () => {
    await pipeline.deliver([contactDeletedNotification(hedy, { appId: APP_ID, createdAt: NOW })]);
    await waitFor(() => pipeline.klaviyo.store.deletions.find((d) => d.identifier.email === hedy.email), {
      what: 'the deletion request in Klaviyo',
      timeoutMs: 60_000,
    });
    await pipeline.quiesce();
    await waitFor(() => reader.keys.isErased({ connectionId: 'default', contactId: hedy.id }), {
      what: 'her keys destroyed (the marker)',
      timeoutMs: 30_000,
    });
    await waitFor(async () => (await page(`/person?q=${hedy.id}`)).includes('id="deleted"'), {
      what: 'the console to know of her deletion',
      timeoutMs: 30_000,
    });

    // every topic of the run, as raw bytes (as is and base64)
    const kafka = createKafka(pipeline.configs.ingest.kafka);
    const rawHits = (await scanTopics(kafka, pipeline.prefix, HER)).map((t) => t.slice(pipeline.prefix.length));
    // decoded with the registry, a dead letter's original too, sealed fields opened where they still open
    const decoded = await decodedScan(HER);
    // the console's pages
    const pages = await consolePages();
    expect(pages.get(`/person?q=${hedy.id}`)).toContain('id="deleted"');
    expect(pages.get(`/person?q=${hedy.id}`)).toContain('id="erased"'); // her deletion's own outcome no longer opens
    // the CLI's dead-letter lists
    const dlq = await dlqOutputs();
    expect(dlq).toContain('KlaviyoRejectedError'); // her refused event is listed (with nothing of her, below)
    // the local stores: the transformer's directory and the sink's deleted set
    const stores = [
      pipeline.configs.transformer.transformer.directoryPath,
      pipeline.configs.sink.sink.deletedContactsPath,
    ];
    const inStores = stores
      .flatMap((d) => filesOf(d))
      .filter((f) => found(f.text, HER).length > 0)
      .map((f) => `${f.path}: ${found(f.text, HER).join(', ')}`);

    // one assertion over every place, each topic and page named: a failure lists exactly where she is still found
    expect({
      'topics (raw bytes)': rawHits.sort(),
      'topics (decoded, opened)': Object.fromEntries(
        [...decoded].map(([t, f]) => [t.slice(pipeline.prefix.length), f]),
      ),
      'console pages': [...pages]
        .map(([p, html]) => [p, found(withoutQuery(p, html), HER)] as const)
        .filter(([, f]) => f.length > 0)
        .map(([p, f]) => `${p}: ${f.join(', ')}`),
      'cli dlq list': found(dlq, HER),
      'local stores': inStores,
    }).toEqual({
      'topics (raw bytes)': [],
      'topics (decoded, opened)': {},
      'console pages': [],
      'cli dlq list': [],
      'local stores': [],
    });

    // the scans see what is there: Alan, who stays, is on the console and in Klaviyo
    expect(found((await page(`/person?q=${alan.id}`)) ?? '', [alan.email!])).toEqual([alan.email]);
  });

  it('a replay of every replayable topic from the beginning exits 0 and adds nothing for her in Klaviyo', async () => {
    const hersInKlaviyo = () => ({
      events: pipeline.events().filter((e) => e.unique_id.includes('737373')).length,
      profile: pipeline.klaviyo.store.findProfile({ email: hedy.email! }) ?? null,
      deletions: pipeline.klaviyo.store.deletions.filter((d) => d.identifier.email === hedy.email).length,
    });
    const before = { ...hersInKlaviyo(), stored: pipeline.klaviyo.store.eventsStored };
    const out: string[] = [];
    const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => out.push(t) };
    const deps = { prompt: async () => true, onInterrupt: () => () => undefined, pollMs: 100 } as never;
    // a replay transformer of its own directory (it must not open the live one's store)
    // a replay of its own stores: a fresh directory, and a fresh deleted set (a replay on another machine, or after
    // the set was lost: only the erasure keeps her out of Klaviyo then)
    const config = pipeline.config('cli', {
      DIRECTORY_PATH: mkdtempSync(join(tmpdir(), 'iks-erasure-replay-dir-')),
      SINK_DELETED_CONTACTS_PATH: mkdtempSync(join(tmpdir(), 'iks-erasure-replay-deleted-')),
    });
    for (const t of ['intercom.notifications.v1', 'klaviyo.events.v1', 'klaviyo.profiles.v1', 'klaviyo.deletions.v1']) {
      const code = await runReplayCommand(
        ['--topic', `${pipeline.prefix}${t}`, '--from-beginning', '--yes'],
        config,
        io,
        deps,
      );
      expect({ topic: t, code }).toEqual({ topic: t, code: 0 });
    }
    await pipeline.quiesce();
    expect({ ...hersInKlaviyo(), stored: pipeline.klaviyo.store.eventsStored }).toEqual(before);
    expect(before.profile).toBeNull();
    expect(found(out.join('\n'), HER)).toEqual([]);
    // what the replays wrote holds nothing of her either, nor does any other topic
    const after = await scanTopics(createKafka(pipeline.configs.ingest.kafka), pipeline.prefix, HER);
    expect(after.map((t) => t.slice(pipeline.prefix.length))).toEqual([]);
    // the live console still shows nothing of her
    expect(found(await page(`/person?q=${hedy.id}`), HER)).toEqual([]);
    expect((consoleApp.get(ConsoleService) as ConsoleService).feed.state).toBe('running');
  });
});
