import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { loadConfig } from '@iks/config';
import { AvroCodec, createKafka, dlqName, ensureTopics, readTopicRanges, topicName, type TopicKey } from '@iks/kafka';
import { mapNotification, staticLookups, type IntercomNotificationInput } from '@iks/mapping';
import type { IntercomAdmin, IntercomContact, IntercomTeam } from '@iks/intercom';
import {
  contactNotification,
  conversationLifecycle,
  makeAdmin,
  makeContact,
  makeTeam,
  generateDataset,
  signBody,
  startIntercomEmulator,
  type IntercomEmulator,
  type IntercomNotification,
} from '../tools/intercom-emulator/src';
import {
  connectionSecretKeys,
  emulatedTenants,
  writeConnections,
  type EmulatedTenant,
} from '../tools/support/emulated-connections';
import { startKlaviyoEmulator, type KlaviyoEmulator } from '../tools/klaviyo-emulator/src';
import { waitUntil } from '../tools/support/wait-for';
import { freePort } from '../test/support/free-port';
import { PrivateBroker } from '../test/support/private-broker';
import { TcpProxy } from './tcp-proxy';
import type { SeenDeadLetter } from './fuzz-accounting';
import type { PostDone, PosterMessage, PostRequest } from './webhook-poster';

const ROOT = resolve(__dirname, __dirname.includes(join('dist', 'chaos')) ? '../..' : '..');
const DIST = join(ROOT, 'dist');
const SECRET = 'chaos-intercom-client-secret';
const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const REGISTRY = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
const SCRIPTS = {
  ingest: 'apps/ingest/src/main.js',
  transformer: 'apps/transformer/src/main.js',
  sink: 'apps/sink/src/main.js',
} as const;
const CLI = 'apps/cli/src/main.js';
const POSTER = 'chaos/webhook-poster.js';
export type AppKind = keyof typeof SCRIPTS;
/** The topics whose `.dlq` the stages write (the raw topic's, the retry topic's, the three klaviyo topics'). */
const DLQ_OF: readonly TopicKey[] = ['notifications', 'notificationsRetry', 'events', 'profiles', 'deletions'];

export interface App {
  readonly kind: AppKind;
  readonly name: string;
  port: number;
  proc: ChildProcess;
  /** The last lines it printed. */
  readonly tail: string[];
  exits: number;
  /** Exits nobody asked for (a crash; the rig restarts the app, as a supervisor would). */
  crashes: number;
  /** Set while the rig itself signals the process. */
  signalled: boolean;
}

/** One webhook as Intercom sends it, and what its sender saw. */
export interface Webhook {
  readonly body: string;
  readonly id: string;
  /** unique_ids of the Klaviyo events it maps to (offline, with the same mapping as the transformer). */
  readonly uniqueIds: readonly string[];
  /** The Klaviyo account its events belong in (absent: the emulator's default account). */
  readonly account?: string;
  status: number;
  tries: number;
  /** Every answer, in order (0: none within Intercom's timeout). */
  readonly answers: number[];
  /** Why an answer was 0, in order: `timeout` (none within 5 s) or the socket's error (`ECONNRESET`, `EPIPE`, …). */
  readonly noAnswer?: string[];
}

/**
 * The real pipeline for one scenario: the Klaviyo emulator in this process (its faults and store
 * at hand), the three BUILT apps as child processes on a fresh TOPIC_PREFIX and fresh group ids,
 * and Intercom's side: signed webhooks posted to ingest, re-sent on a 5xx or no answer as Intercom
 * does (a 4xx is final), by the poster, a child process of its own (webhook-poster.ts).
 */
/** One connection of a rig with `tenants`: its workspace's people, admin and team. */
export interface RigTenant extends EmulatedTenant {
  contacts: IntercomContact[];
  admin: IntercomAdmin;
  team: IntercomTeam;
}

/** The default account's store, or, with tenants, each tenant's account's store. */
export interface RigAccount {
  readonly id: string;
  readonly store: KlaviyoEmulator['store'];
}

export class ChaosRig {
  klaviyo!: KlaviyoEmulator;
  /** With `tenants`: the Intercom emulator serving their workspaces (the transformer's lookups). */
  intercom: IntercomEmulator | null = null;
  /**
   * With `tenants`: the connections (one workspace, one Klaviyo account each; CONNECTIONS_DEFAULT=off),
   * the emulator's limits on (every account at Klaviyo's documented limits), bulk requests of
   * `sinkBatchMaxEvents` events.
   */
  readonly tenants: RigTenant[] = [];
  readonly sinkBatchMaxEvents: number | undefined;
  /** The apps reach the schema registry through it: `registry.cut()` takes the registry away. */
  registry!: TcpProxy;
  /** With `privateBroker`: the rig's own broker, which a scenario may kill and start again. */
  readonly broker: PrivateBroker | null;
  readonly prefix = `chaos${randomBytes(4).toString('hex')}.`;
  readonly apps: App[] = [];
  readonly webhooks: Webhook[] = [];
  /** Apps that exited by themselves (taken by the runner into the scenario's notes). */
  readonly crashLog: string[] = [];
  private env: NodeJS.ProcessEnv = {};
  private contacts: IntercomContact[] = [];
  private admin!: IntercomAdmin;
  private team!: IntercomTeam;
  private ingestPort = 0;
  private nextId = 100_000 + Math.floor(Math.random() * 800_000);
  private stopping = false;
  /** Intercom's side: a child process of its own (webhook-poster.ts), so this process's load cannot fake a "no answer". */
  private poster: ChildProcess | null = null;
  private posts = new Map<number, { hooks: readonly Webhook[]; done: (d: PostDone) => void }>();
  private nextBatch = 0;

  constructor(opts: { privateBroker?: boolean; tenants?: number; sinkBatchMaxEvents?: number } = {}) {
    this.broker = opts.privateBroker ? new PrivateBroker() : null;
    this.sinkBatchMaxEvents = opts.tenants ? (opts.sinkBatchMaxEvents ?? 8) : undefined;
    for (const t of emulatedTenants(opts.tenants ?? 0, 'chaos', SECRET))
      this.tenants.push({ ...t, contacts: [], admin: makeAdmin({ name: 'x' }), team: makeTeam({ name: 'x' }) });
  }

  /** Where events land: the default account, or each tenant's. */
  accounts(): RigAccount[] {
    if (this.tenants.length === 0) return [{ id: 'default', store: this.klaviyo.store }];
    return this.tenants.map((t) => ({ id: t.account, store: this.klaviyo.account(t.account).store }));
  }

  tenant(account: string): RigTenant {
    const t = this.tenants.find((x) => x.account === account || x.connection === account);
    if (!t) throw new Error(`no tenant ${account}`);
    return t;
  }

  async start(extraEnv: Record<string, string> = {}): Promise<void> {
    await this.broker?.start();
    const registry = new URL(REGISTRY);
    this.registry = await new TcpProxy({ host: registry.hostname, port: Number(registry.port || 80) }).start();
    const registryUrl = new URL(REGISTRY);
    registryUrl.host = `127.0.0.1:${this.registry.port}`;
    const multi = this.tenants.length > 0;
    this.klaviyo = await startKlaviyoEmulator(
      multi
        ? {
            port: 0,
            limits: true,
            accounts: this.tenants.map((t) => ({ id: t.account, name: t.connection, privateKeys: [t.privateKey] })),
          }
        : { port: 0, limits: false },
    );
    if (multi) {
      this.intercom = await startIntercomEmulator({
        port: 0,
        workspaces: this.tenants.map((t, i) => ({
          appId: t.appId,
          region: 'US' as const,
          accessTokens: [t.accessToken],
          clientSecret: t.clientSecret,
          dataset: generateDataset({
            seed: 70 + i,
            contacts: 8,
            conversations: 0,
            tickets: 0,
            appId: t.appId,
            idBase: t.idBase,
          }),
        })),
      });
      for (const t of this.tenants) {
        const d = this.intercom.workspace(t.appId).dataset;
        t.contacts = [...d.contacts];
        t.admin = d.admins[0];
        t.team = d.teams[0];
      }
    }
    this.startPoster();
    this.ingestPort = await freePort();
    this.env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      KAFKA_BROKERS: this.broker?.brokers ?? BROKERS,
      SCHEMA_REGISTRY_URL: registryUrl.toString().replace(/\/$/, ''),
      TOPIC_PREFIX: this.prefix,
      TRANSFORMER_GROUP_ID: `${this.prefix}transformer`,
      SINK_GROUP_ID: `${this.prefix}sink`,
      INGEST_HOST: '127.0.0.1',
      INGEST_PORT: String(this.ingestPort),
      INGEST_ACK_TIMEOUT_MS: '3000',
      KLAVIYO_BASE_URL: this.klaviyo.url,
      KLAVIYO_API_KEY: 'pk_chaos_emulator',
      INTERCOM_CLIENT_SECRET: SECRET,
      SINK_BATCH_MAX_WAIT_MS: '50',
      SINK_RETRY_MAX_DELAY_MS: '2000',
      STAGE_STALL_READY_MS: '30000',
      KLAVIYO_REQUEST_TIMEOUT_MS: '3000',
      CONTACT_RETRY_INITIAL_MS: '300',
      CONTACT_WAIT_MAX_MS: '60000',
      LOG_LEVEL: 'warn',
      ...(multi
        ? {
            CONNECTION_SECRET_KEYS: connectionSecretKeys(),
            CONNECTIONS_DEFAULT: 'off',
            SINK_BATCH_MAX_EVENTS: String(this.sinkBatchMaxEvents),
          }
        : {}),
      ...extraEnv,
    };
    const config = loadConfig(this.env as Record<string, string>, 'ingest');
    // a broker under load may not yet know a topic it just created ("does not host this
    // topic-partition" while kafkajs waits for leaders): the set-up is idempotent, so it goes again
    for (let attempt = 1; ; attempt++) {
      const admin = createKafka(config.kafka).admin();
      try {
        await admin.connect();
        await ensureTopics(admin, config.kafka);
        break;
      } catch (e) {
        if (attempt >= 5) throw e;
        this.crashLog.push(`rig set-up: topics not ready on try ${attempt} (${(e as Error).message}); again`);
        await sleep(1000 * attempt);
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    }
    await new AvroCodec(config.kafka).registerAll();
    if (multi)
      await writeConnections(loadConfig(this.env as Record<string, string>, 'cli'), this.tenants, {
        intercom: this.intercom!.url,
        klaviyo: this.klaviyo.url,
      });
    await Promise.all([this.spawn('ingest'), this.spawn('transformer'), this.spawn('sink')]);
    if (multi) {
      await this.warmTenants();
      return;
    }
    this.admin = makeAdmin({ name: 'Chaos Admin' });
    this.team = makeTeam({ name: 'Support' });
    this.contacts = Array.from({ length: 8 }, (_, i) =>
      makeContact({
        id: randomBytes(12).toString('hex'),
        role: 'user',
        email: `chaos.${i}.${this.prefix.slice(0, -1)}@example.com`,
        phone: `+1415555${1000 + i}`,
        externalId: null,
      }),
    );
    // the transformer learns the contacts from their webhooks: all of them first
    const hooks = this.contacts.map((c) => this.webhook(contactNotification('contact.user.created', c)));
    await this.post(hooks, 20);
    await waitUntil(() => this.klaviyo.store.profiles().length >= this.contacts.length, {
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    if (this.klaviyo.store.profiles().length < this.contacts.length) {
      throw new Error(
        `contacts did not reach Klaviyo as profiles (webhook answers ${hooks.map((h) => h.status).join(',')}; emulator ${JSON.stringify(this.klaviyo.stats().byStatus)}, ${this.klaviyo.store.profiles().length} profile(s); ${JSON.stringify(this.klaviyo.store.requestLog().map((r) => [r.endpoint, r.status]))})`,
      );
    }
    this.webhooks.length = 0;
  }

  /** Each tenant's contacts to its workspace's webhooks first (the transformer learns them), then waits for their profiles in each account. */
  private async warmTenants(): Promise<void> {
    const hooks = this.tenants.flatMap((t) =>
      t.contacts.map((c) => this.webhook(contactNotification('contact.user.created', c, { appId: t.appId }), t)),
    );
    await this.post(hooks, 20);
    const done = () =>
      this.tenants.every((t) => this.klaviyo.account(t.account).store.profiles().length >= t.contacts.length);
    await waitUntil(done, { timeoutMs: 90_000, intervalMs: 100 });
    if (!done())
      throw new Error(
        `the tenants' contacts did not reach their accounts as profiles (webhook answers ${hooks.map((h) => h.status).join(',')}; ${this.tenants
          .map((t) => `${t.account}: ${this.klaviyo.account(t.account).store.profiles().length}`)
          .join(', ')})`,
      );
    this.webhooks.length = 0;
  }

  /** Starts one more app of `kind` (a replica or a restart); resolves when it is ready (or at once with `waitReady` false). */
  async spawn(kind: AppKind, name: string = kind, waitReady = true): Promise<App> {
    const port = kind === 'ingest' ? this.ingestPort : await freePort();
    const env = { ...this.env, TRANSFORMER_HTTP_PORT: String(port), SINK_HTTP_PORT: String(port) };
    const proc = spawn(process.execPath, [join(DIST, SCRIPTS[kind])], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const existing = this.apps.find((a) => a.name === name);
    const app: App = existing ?? { kind, name, port, proc, tail: [], exits: 0, crashes: 0, signalled: false };
    app.proc = proc;
    app.port = port;
    app.signalled = false;
    if (!existing) this.apps.push(app);
    for (const s of [proc.stdout!, proc.stderr!]) {
      createInterface({ input: s }).on('line', (l) => {
        app.tail.push(l);
        if (app.tail.length > 40) app.tail.shift();
        if (process.env.CHAOS_VERBOSE === '1') process.stdout.write(`[${name}] ${l}\n`);
      });
    }
    proc.on('exit', (code, sig) => {
      app.exits++;
      if (app.signalled || this.stopping || app.proc !== proc) return;
      // an app that exits by itself (a crash it cannot recover from) is restarted, as its supervisor would
      app.crashes++;
      this.crashLog.push(
        `${name} exited by itself (${sig ?? `code ${code}`}) and was restarted: ${app.tail.slice(-3).join(' | ').slice(0, 400)}`,
      );
      setTimeout(() => void this.spawn(kind, name, false).catch(() => undefined), 1000);
    });
    if (!waitReady) return app;
    await this.waitReady(name);
    return app;
  }

  /** Waits for 200 on the app's /health/ready (on its current port: a crashed app comes back on another). */
  async waitReady(name: string, timeoutMs = 90_000): Promise<void> {
    if (!(await waitUntil(() => this.ready(name), { timeoutMs, intervalMs: 200 }))) {
      throw new Error(`${name} did not become ready within ${timeoutMs} ms\n${this.app(name).tail.join('\n')}`);
    }
  }

  app(name: string): App {
    const a = this.apps.find((x) => x.name === name);
    if (!a) throw new Error(`no app ${name}`);
    return a;
  }

  /** Sends a signal and waits for the process to end; the time it took to exit. */
  async signal(name: string, signal: NodeJS.Signals, timeoutMs = 30_000): Promise<number> {
    const app = this.app(name);
    const { proc } = app;
    if (proc.exitCode !== null || proc.signalCode !== null) return 0;
    app.signalled = true;
    const t = Date.now();
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(
        () => rej(new Error(`${name} did not exit within ${timeoutMs} ms of ${signal}`)),
        timeoutMs,
      );
      proc.once('exit', () => {
        clearTimeout(timer);
        res();
      });
      proc.kill(signal);
    });
    return Date.now() - t;
  }

  async restart(name: string, waitReady = true): Promise<void> {
    const a = this.app(name);
    await this.spawn(a.kind, name, waitReady);
  }

  /** Readiness of an app: 200 on /health/ready. */
  async ready(name: string): Promise<boolean> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.app(name).port}/health/ready`, {
        signal: AbortSignal.timeout(2000),
      });
      await res.arrayBuffer();
      return res.status === 200;
    } catch {
      return false;
    }
  }

  /**
   * `n` conversation lifecycles (4 webhooks each: created, replied, read, rated), not sent yet.
   * `firstId` numbers them from there (the same bodies, shape for shape, on every run of a seed);
   * by default they take the rig's next ids (random per run, below 1,000,000).
   */
  conversations(n: number, firstId?: number): Webhook[] {
    const out: Webhook[] = [];
    const startAt = Math.floor(Date.now() / 1000) - 3600;
    for (let i = 0; i < n; i++) {
      const id = String(firstId !== undefined ? firstId + i : this.nextId++);
      const contact = this.contacts[i % this.contacts.length];
      for (const note of conversationLifecycle({
        contact,
        admin: this.admin,
        team: this.team,
        startAt,
        seed: Number(id),
        id,
      }))
        out.push(this.webhook(note));
    }
    return out;
  }

  /** `n` conversation lifecycles of one tenant's workspace (its `app_id`, its people), for its account. */
  tenantConversations(account: string, n: number): Webhook[] {
    const t = this.tenant(account);
    const out: Webhook[] = [];
    const startAt = Math.floor(Date.now() / 1000) - 3600;
    for (let i = 0; i < n; i++) {
      const id = String(this.nextId++);
      const contact = t.contacts[i % t.contacts.length];
      for (const note of conversationLifecycle({
        contact,
        admin: t.admin,
        team: t.team,
        startAt,
        seed: Number(id),
        id,
        appId: t.appId,
      }))
        out.push(this.webhook({ ...note, app_id: t.appId }, t));
    }
    return out;
  }

  /** A webhook of an arbitrary body (poison), with the events it is expected to produce (none). */
  rawWebhook(body: string, id: string): Webhook {
    return { body, id, uniqueIds: [], status: 0, tries: 0, answers: [] };
  }

  private webhook(n: IntercomNotification, tenant?: RigTenant): Webhook {
    const body = JSON.stringify(n);
    return {
      body,
      id: n.id,
      uniqueIds: this.predict(body, tenant).uniqueIds,
      status: 0,
      tries: 0,
      answers: [],
      ...(tenant ? { account: tenant.account } : {}),
    };
  }

  /**
   * What the transformer will make of a webhook body ingest stored, by the same mapping run offline
   * with the rig's contacts: events (their unique_ids), a skip, pending (contact unknown: retried,
   * then dead-lettered), or a dead letter (the mapping throws, or the records cannot be encoded).
   */
  predict(
    body: string,
    tenant?: RigTenant,
  ): { kind: 'events' | 'skip' | 'pending' | 'dead_letter'; uniqueIds: string[] } {
    try {
      const n = JSON.parse(body) as IntercomNotification;
      const input: IntercomNotificationInput = {
        notificationId: n.id,
        topic: n.topic,
        createdAt: n.created_at,
        source: 'webhook',
        body: n,
      };
      // the emulator's types are the vendor's shapes; the mapping reads them as its own (JSON objects)
      const lookups = staticLookups(
        JSON.parse(
          JSON.stringify(
            tenant
              ? { contacts: tenant.contacts, admins: [tenant.admin], teams: [tenant.team] }
              : { contacts: this.contacts, admins: [this.admin], teams: [this.team] },
          ),
        ),
      );
      // a tenant's connection maps national phone numbers as US ones (emulated-connections.ts)
      const outcome = mapNotification(input, lookups, tenant ? { defaultPhoneRegion: 'US' } : {});
      if (outcome.kind !== 'records') return { kind: outcome.kind, uniqueIds: [] };
      for (const r of outcome.records) JSON.stringify(r); // what the Avro serdes does with properties
      // ids travel as Avro strings (UTF-8): a lone surrogate a body may carry arrives as U+FFFD
      const utf8 = (id: string) => Buffer.from(id, 'utf8').toString('utf8');
      return {
        kind: 'events',
        uniqueIds: outcome.records.flatMap((r) => (r.kind === 'event' ? [utf8(r.unique_id)] : [])),
      };
    } catch {
      return { kind: 'dead_letter', uniqueIds: [] };
    }
  }

  /**
   * Every record of the run's dead-letter topics (the raw and retry topics', the three klaviyo
   * topics'), with its reason and what its Avro original carries: the notification (id, body) or
   * the record (unique_id, source notification id). An original that does not decode carries nothing.
   */
  async deadLetters(): Promise<SeenDeadLetter[]> {
    const config = loadConfig(this.env as Record<string, string>, 'cli');
    const kafka = createKafka(config.kafka);
    const codec = new AvroCodec(config.kafka);
    const admin = kafka.admin();
    await admin.connect();
    const out: SeenDeadLetter[] = [];
    try {
      const existing = new Set(await admin.listTopics());
      for (const key of DLQ_OF) {
        const topic = dlqName(topicName(key, this.prefix));
        if (!existing.has(topic)) continue;
        const ranges = (await admin.fetchTopicOffsets(topic)).map((o) => ({
          partition: o.partition,
          from: BigInt(o.low),
          to: BigInt(o.high),
        }));
        for (const { partition, message } of await readTopicRanges(kafka, admin, topic, ranges)) {
          const letter = await codec.decodeAs('dlq', message.value!);
          const o = (letter.value ? await codec.decode(letter.value).catch(() => null) : null) as Record<
            string,
            unknown
          > | null;
          const str = (k: string) => (typeof o?.[k] === 'string' ? (o[k] as string) : undefined);
          out.push({
            at: `${topic}[${partition}]@${message.offset}`,
            topic: key as SeenDeadLetter['topic'],
            reason: `${letter.error_class}: ${letter.error_message}`,
            notificationId: str('notification_id'),
            body: str('body'),
            uniqueId: str('unique_id'),
            sourceNotificationId: str('source_notification_id'),
          });
        }
      }
    } finally {
      await admin.disconnect();
    }
    return out;
  }

  /** Forks the poster (built: dist/chaos/webhook-poster.js). */
  private startPoster(): void {
    const script = join(DIST, POSTER);
    if (!existsSync(script)) throw new Error(`${script} is missing: run npm run build`);
    const poster = fork(script, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    poster.on('message', (m: PosterMessage) => {
      const post = this.posts.get(m.batch);
      if (!post) return;
      if (m.type === 'done') {
        this.posts.delete(m.batch);
        post.done(m);
        return;
      }
      const w = post.hooks[m.i];
      w.tries++;
      w.status = typeof m.answer === 'number' ? m.answer : 0;
      w.answers.push(w.status);
      if (typeof m.answer === 'string') ((w as { noAnswer?: string[] }).noAnswer ??= []).push(m.answer);
    });
    poster.on('exit', (code, sig) => {
      if (!this.stopping) this.crashLog.push(`the webhook poster exited (${sig ?? `code ${code}`})`);
      for (const [, p] of this.posts)
        p.done({
          type: 'done',
          batch: -1,
          probes: 0,
          notReady: 0,
          slow: 0,
          longestRedMs: 0,
          lagP99Ms: -1,
          lagMaxMs: -1,
        });
      this.posts.clear();
      this.poster = null;
    });
    this.poster = poster;
  }

  /**
   * Posts the webhooks `perSecond` at a time (open loop); each one is re-sent after a 5xx, a
   * 429 or no answer (Intercom's redelivery) until it gets a final answer or `giveUpMs` passes.
   * The posting runs in the poster process; `probeReady` also has it probe ingest's readiness
   * while it posts; `concurrency` posts closed loop instead (webhook-poster.ts). Resolves with
   * the poster's figures.
   */
  async post(
    hooks: readonly Webhook[],
    perSecond: number,
    giveUpMs = 120_000,
    opts: { probeReady?: boolean; concurrency?: number; totalMs?: number } = {},
  ): Promise<PostDone> {
    this.webhooks.push(...hooks);
    if (!this.poster) throw new Error('the webhook poster is not running');
    const batch = this.nextBatch++;
    const url = `http://127.0.0.1:${this.ingestPort}`;
    const req: PostRequest = {
      type: 'post',
      batch,
      url: `${url}/webhooks/intercom`,
      hooks: hooks.map((w) => ({ body: w.body, signature: signBody(w.body, SECRET) })),
      perSecond,
      concurrency: opts.concurrency,
      totalMs: opts.totalMs,
      giveUpMs,
      probeUrl: opts.probeReady ? `${url}/health/ready` : undefined,
    };
    return new Promise<PostDone>((done) => {
      this.posts.set(batch, { hooks, done });
      this.poster!.send(req);
    });
  }

  /** Bytes straight to the raw topic (not Avro: a producer outside the pipeline, or a corrupt record). */
  async produceRaw(values: readonly Buffer[]): Promise<void> {
    const kafka = createKafka(loadConfig(this.env as Record<string, string>, 'cli').kafka);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: topicName('notifications', this.prefix),
      acks: -1,
      messages: values.map((value) => ({ key: 'chaos-poison', value })),
    });
    await producer.disconnect();
  }

  /** Runs the built CLI with the apps' environment; its exit code and output. */
  async cli(args: readonly string[], timeoutMs = 180_000): Promise<{ code: number; out: string }> {
    const proc = spawn(process.execPath, [join(DIST, CLI), ...args], {
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    for (const s of [proc.stdout!, proc.stderr!]) s.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    const code = await new Promise<number>((res) => proc.on('exit', (c) => res(c ?? -1)));
    clearTimeout(timer);
    return { code, out };
  }

  /** Waits until Klaviyo has had no request for `quietMs` (the pipeline has nothing left to send). */
  async quiet(quietMs = 3000, timeoutMs = 120_000): Promise<void> {
    const store = this.klaviyo.store;
    let last = store.requestsTotal;
    let since = Date.now();
    await waitUntil(
      () => {
        if (store.requestsTotal !== last) {
          last = store.requestsTotal;
          since = Date.now();
        }
        return Date.now() - since >= quietMs;
      },
      { timeoutMs, intervalMs: 100 },
    );
  }

  /** Records in the dead-letter topics of this run (of `keys`' topics; default every stage's). */
  async deadLettered(keys: readonly TopicKey[] = DLQ_OF): Promise<number> {
    const admin = createKafka(loadConfig(this.env as Record<string, string>, 'cli').kafka).admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      let n = 0;
      for (const key of keys) {
        const t = dlqName(topicName(key, this.prefix));
        if (!existing.has(t)) continue;
        for (const p of await admin.fetchTopicOffsets(t)) n += Number(p.high) - Number(p.low);
      }
      return n;
    } finally {
      await admin.disconnect();
    }
  }

  /** The env the apps run with (for a consumer of the tests' own). */
  get appEnv(): Readonly<NodeJS.ProcessEnv> {
    return this.env;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.poster?.connected) {
      this.poster.send({ type: 'stop' });
      this.poster.disconnect();
    }
    for (const a of [...this.apps].reverse()) {
      if (a.proc.exitCode !== null || a.proc.signalCode !== null) continue;
      await this.signal(a.name, 'SIGTERM', 15_000).catch(() => a.proc.kill('SIGKILL'));
    }
    await this.klaviyo?.close();
    await this.intercom?.close();
    await this.registry?.stop();
    if (this.broker) {
      await this.broker.kill();
      return;
    }
    const admin = createKafka(loadConfig(this.env as Record<string, string>, 'cli').kafka).admin();
    await admin.connect().catch(() => undefined);
    const topics = (await admin.listTopics().catch(() => [] as string[])).filter((t) => t.startsWith(this.prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}
