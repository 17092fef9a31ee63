/**
 * Secrets (the Intercom client secret, the Intercom access token, the Klaviyo key) never
 * appear in logs or in Kafka, including on error paths (bad signatures, Klaviyo 5xx/401
 * retries, dead letters).
 */
import { ConsoleLogger, Logger } from '@nestjs/common';
import { createKafka } from '@iks/kafka';
import {
  contactNotification,
  conversationLifecycle,
  DEFAULT_ACCESS_TOKEN,
  generateDataset,
  makeAdmin,
  signBody,
} from '../../tools/intercom-emulator/src';
import { captureOutput } from '../support/secret-scan';
import { waitFor } from '../support/wait-for';
import { CLIENT_SECRET, KLAVIYO_KEY, Pipeline } from './pipeline-harness';

describe('e2e: secrets stay out of logs and Kafka', () => {
  let pipeline: Pipeline;
  const written: string[] = [];
  let restoreOutput: (() => void) | undefined;

  beforeAll(async () => {
    restoreOutput = captureOutput(written);
    pipeline = await Pipeline.start({
      dataset: generateDataset({ seed: 7, contacts: 5, conversations: 0, tickets: 0 }),
    });
    // the harness starts ingest with logging off: print everything the apps would print
    Logger.overrideLogger(new ConsoleLogger({ logLevels: ['error', 'warn', 'log', 'debug', 'verbose'] }));
  });
  afterAll(async () => {
    restoreOutput?.();
    await pipeline?.stop();
  });

  it('a run with errors and retries leaves no secret in any topic or log line', async () => {
    const contact = pipeline.intercom.dataset.contacts.find((c) => c.email)!;
    pipeline.klaviyo.faults.next500(2);
    expect(await pipeline.post(contactNotification('contact.user.created', contact))).toBe(200);
    const supportAdmin =
      pipeline.intercom.dataset.admins[0] ?? makeAdmin({ id: '1', name: 'A', email: 'a@example.com' });
    const notes = conversationLifecycle({
      contact,
      admin: supportAdmin,
      startAt: Math.floor(Date.now() / 1000) - 3600,
    });
    for (const n of notes) expect(await pipeline.post(n)).toBe(200);
    // a forged webhook: 401 (its signature header is logged nowhere either)
    const forged = JSON.stringify(notes[0]);
    const res = await fetch(pipeline.webhookUrl, {
      method: 'POST',
      body: forged,
      headers: { 'content-type': 'application/json', 'x-hub-signature': signBody(forged, 'not-the-secret') },
    });
    expect(res.status).toBe(401);
    await waitFor(() => pipeline.events().length >= 4, { what: 'the conversation events', timeoutMs: 60_000 });

    const secrets = [CLIENT_SECRET, KLAVIYO_KEY, DEFAULT_ACCESS_TOKEN];
    // every record of every topic of this pipeline (raw, directory, klaviyo.*, retry, dlq), byte by byte
    const kafka = createKafka(pipeline.configs.ingest.kafka);
    const kafkaAdmin = kafka.admin();
    await kafkaAdmin.connect();
    const topics = (await kafkaAdmin.listTopics()).filter((t) => t.startsWith(pipeline.prefix));
    const ends = new Map<string, number>();
    for (const t of topics)
      ends.set(
        t,
        (await kafkaAdmin.fetchTopicOffsets(t)).reduce((n, p) => n + Number(p.high), 0),
      );
    await kafkaAdmin.disconnect();
    const seen: Buffer[] = [];
    const consumer = kafka.consumer({ groupId: `${pipeline.prefix}secrets-scan` });
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    let count = 0;
    await consumer.run({
      eachMessage: async ({ message }) => {
        count++;
        seen.push(message.key ?? Buffer.alloc(0), message.value ?? Buffer.alloc(0));
        for (const v of Object.values(message.headers ?? {})) seen.push(Buffer.from(String(v)));
      },
    });
    const total = [...ends.values()].reduce((a, b) => a + b, 0);
    await waitFor(() => count >= total, { what: `all ${total} records`, timeoutMs: 30_000 });
    await consumer.disconnect();
    expect(total).toBeGreaterThan(5);
    const bytes = Buffer.concat(seen);
    for (const s of secrets) expect(bytes.includes(Buffer.from(s))).toBe(false);

    const logs = written.join('');
    expect(logs.length).toBeGreaterThan(0);
    expect(logs).toMatch(/POST \/api\/[a-z-]+ attempt \d+ in \d+ ms: .*500/); // the 5xx retries were logged
    for (const s of secrets) expect(logs.includes(s)).toBe(false);
  });
});
