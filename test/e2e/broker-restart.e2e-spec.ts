/**
 * The whole pipeline on a private broker that is killed (SIGKILL) and started again while
 * signed webhooks stream in at a steady pace. Webhooks answered other than 200 are sent again
 * afterwards (as Intercom redelivers); at the end every notification has its event in Klaviyo
 * exactly once.
 */
import {
  contactNotification,
  conversationNotification,
  createRng,
  makeAdmin,
  makeContact,
  makeConversation,
  makeTeam,
  type Dataset,
  type IntercomNotification,
} from '../../tools/intercom-emulator/src';
import { PrivateBroker } from '../support/private-broker';
import { waitFor } from '../support/wait-for';
import { Pipeline } from './pipeline-harness';

const APP_ID = 'e2eapp02';
const NOW = Math.floor(Date.now() / 1000);
const TOTAL = 60;
const PACE_MS = 100;

const admin = makeAdmin({ id: '991260201', name: 'Barbara Liskov', email: 'barbara@support.example.com' });
const team = makeTeam({ id: '5017901', name: 'Support' });
const contact = makeContact({
  id: '6762f0d0bbbb000000000001',
  role: 'user',
  email: 'radia.perlman@example.com',
  phone: '+14155550123',
  name: 'Radia Perlman',
  createdAt: NOW - 86400,
});
const dataset: Dataset = {
  appId: APP_ID,
  admins: [admin],
  teams: [team],
  tags: [],
  subscriptionTypes: [],
  ticketTypes: [],
  contacts: [contact],
  contactSubscriptions: { [contact.id]: [] },
  conversations: [],
  tickets: [],
};

const notifications: IntercomNotification[] = Array.from({ length: TOTAL }, (_, i) => {
  const c = makeConversation(
    { id: String(800000 + i), contact, admin, team, createdAt: NOW - 3600 + i, title: `stream ${i}` },
    createRng(i + 1),
  );
  return conversationNotification('conversation.user.created', c, {
    appId: APP_ID,
    id: `notif_stream_${String(i).padStart(4, '0')}`,
    createdAt: NOW - 3600 + i,
  });
});
const uniqueIdOf = (n: IntercomNotification) => `intercom:conversation:${(n.data.item as { id: string }).id}:created`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

(PrivateBroker.available() ? describe : describe.skip)('e2e: broker restart in the middle of a webhook stream', () => {
  const broker = new PrivateBroker();
  let pipeline: Pipeline;

  beforeAll(async () => {
    await broker.start();
    pipeline = await Pipeline.start({ dataset, env: { KAFKA_BROKERS: broker.brokers, INGEST_ACK_TIMEOUT_MS: '1500' } });
  }, 120_000);
  afterAll(async () => {
    await pipeline?.stop();
    await broker.kill();
  }, 60_000);

  it('loses nothing: every 200 and every re-sent webhook ends as exactly one Klaviyo event', async () => {
    await pipeline.deliver([
      contactNotification('contact.user.created', contact, { appId: APP_ID, createdAt: contact.created_at }),
    ]);
    await waitFor(() => pipeline.klaviyo.store.findProfile({ email: contact.email }), {
      what: 'the profile',
      timeoutMs: 30_000,
    });

    const t0 = Date.now();
    const mark = (what: string) =>
      process.env.E2E_TRACE && process.stdout.write(`[broker-restart] ${what} at +${Date.now() - t0} ms\n`);
    const answers = new Map<string, number[]>();
    let sent = 0;
    const stream = (async () => {
      for (const n of notifications) {
        const started = Date.now();
        const status = await pipeline.post(n, undefined, 5000);
        answers.set(n.id, [...(answers.get(n.id) ?? []), status]);
        sent++;
        await sleep(Math.max(0, PACE_MS - (Date.now() - started)));
      }
    })();

    // kill the broker a third of the way in, bring it back after a few refused webhooks
    await waitFor(() => sent >= TOTAL / 3, { what: 'a third of the stream', timeoutMs: 60_000 });
    await broker.kill();
    mark('broker killed');
    const killedAt = sent;
    await waitFor(() => [...answers.values()].filter((a) => a.at(-1) !== 200).length >= 3, {
      what: 'webhooks refused during the outage',
      timeoutMs: 60_000,
    });
    await broker.start();
    mark('broker started');
    await stream;
    mark('stream done');
    expect(sent).toBe(TOTAL);

    const refused = notifications.filter((n) => answers.get(n.id)!.at(-1) !== 200);
    // during the outage ingest refuses (503 within Intercom's timeout), never accepts
    expect(refused.length).toBeGreaterThanOrEqual(3);
    for (const n of refused) expect(answers.get(n.id)).not.toContain(200);
    expect(refused.every((n) => answers.get(n.id)!.every((s) => s === 503 || s === 500 || s === 0))).toBe(true);
    expect(notifications.slice(0, killedAt - 1).every((n) => answers.get(n.id)![0] === 200)).toBe(true);

    // Intercom redelivers what was not acknowledged: same id, delivery_attempts + 1, until 200
    for (const n of refused) {
      let attempt = 1;
      await waitFor(
        async () => {
          attempt++;
          const status = await pipeline.post({ ...n, delivery_attempts: attempt }, undefined, 5000);
          answers.get(n.id)!.push(status);
          return status === 200;
        },
        { what: `redelivery of ${n.id}`, timeoutMs: 60_000, intervalMs: 500 },
      );
    }

    mark(`redelivered ${refused.length}`);
    const trace = process.env.E2E_TRACE
      ? setInterval(
          () =>
            void pipeline
              .lagReport()
              .then((r) => mark(`${r}; klaviyo events ${pipeline.events().length}`))
              .catch(() => undefined),
          3000,
        )
      : undefined;
    try {
      await pipeline.waitForUniqueIds(notifications.map(uniqueIdOf), 90_000);
      mark('all events in Klaviyo');
      await pipeline.quiesce(90_000);
      mark('quiesced');
    } finally {
      clearInterval(trace);
    }
    for (const n of notifications) {
      expect({ id: n.id, events: pipeline.eventsWithUniqueId(uniqueIdOf(n)).length }).toEqual({ id: n.id, events: 1 });
    }
    expect(pipeline.events('Conversation Created')).toHaveLength(TOTAL);
    expect(pipeline.events()).toHaveLength(TOTAL);
  }, 240_000);
});
