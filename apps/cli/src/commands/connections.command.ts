import { createInterface } from 'node:readline';
import type { Producer } from 'kafkajs';
import { Secret, type Config } from '@iks/config';
import {
  CONNECTIONS,
  ConnectionChangeError,
  ConnectionProbe,
  ConnectionStore,
  ConnectionsModule,
  INTERCOM_REGION_API,
  ANY_WORKSPACE,
  NoSealingKeyError,
  ProbeError,
  connectionIdProblem,
  seedExamples,
  type Connection,
  type KafkaConnectionDirectory,
} from '@iks/connections';
import { AvroCodec, PRODUCER } from '@iks/kafka';
import { EXAMPLE_EMAIL } from '@iks/mapping';
import { KLAVIYO_BASE_URL } from '@iks/klaviyo';
import { createContext } from '@iks/ops';
import type { CliIo } from '../cli-io';
import { EXIT } from './command-args';
import { confirmOrExit, type Prompt } from './confirm';
import {
  parseConnectionsArgs,
  type ConnectionsAddArgs,
  type ConnectionsArgs,
  type SecretSource,
} from './connections.args';
import { printable, printableJson } from './printable';

export interface ConnectionsDeps {
  readonly prompt?: Prompt;
  /** Standard input's first line (a secret given as `-`); replaced in tests. */
  readonly readStdin?: () => Promise<string>;
  /** Where `env:<VARIABLE>` secrets are read from (main.ts: the process's environment; none by default). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** The first line of standard input (a pipe, a file, or typed on a terminal): the rest is not read. */
function processStdin(): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, terminal: false });
    let line = '';
    rl.once('line', (l) => {
      line = l;
      rl.close();
    });
    rl.once('close', () => resolve(line));
  });
}

/** A failure the operator can act on (exit 1), its message free of secrets. */
class Refused extends Error {
  readonly retriable = false;
}

/**
 * `connections add|list|pause|resume|remove|reseal` (docs/CONNECTIONS.md, docs/CLI.md): reads
 * pipeline.connections.v1 into a directory (ConnectionsModule), changes go through the
 * ConnectionStore (a new revision, secrets sealed). Never prints a secret.
 */
export async function runConnections(
  a: ConnectionsArgs,
  config: Config,
  io: CliIo,
  deps: ConnectionsDeps = {},
): Promise<number> {
  const name = `connections ${a.sub}`;
  const changes = a.sub !== 'list';
  if (changes && config.connections.secretKeys.length === 0) {
    io.stderr(`${name}: ${new NoSealingKeyError().message}`);
    return EXIT.usage;
  }
  let add: ResolvedAdd | undefined;
  if (a.sub === 'add') {
    const problem = connectionIdProblem(a.add.id);
    if (problem) {
      io.stderr(`${name}: --id: ${problem}`);
      return EXIT.usage;
    }
    try {
      add = await resolveSecrets(a.add, deps);
    } catch (e) {
      io.stderr(`${name}: ${(e as Error).message}`);
      return EXIT.usage;
    }
  }
  if (a.sub === 'remove') {
    io.stdout(`connections remove: connection "${a.id}" stops routing; its records stay replayable`);
    const stop = await confirmOrExit(name, a.yes, io, deps.prompt);
    if (stop !== null) return stop;
  }
  const app = await createContext(config, 'cli', ConnectionsModule);
  try {
    const directory = app.get<KafkaConnectionDirectory>(CONNECTIONS);
    const store = app.get(ConnectionStore);
    switch (a.sub) {
      case 'list':
        return list(directory, a.json, io);
      case 'add':
        return await addConnection(add!, directory, store, app.get(ConnectionProbe), io, async (c) => {
          if (!config.connections.seedExamples) return;
          // CONNECTIONS_SEED_EXAMPLES: the new connection's example profile and nine example events
          const codec = app.get(AvroCodec);
          await codec.registerAll();
          const seeded = await seedExamples({ producer: app.get<Producer>(PRODUCER), codec }, config, c);
          io.stdout(
            `seeded examples (CONNECTIONS_SEED_EXAMPLES): ${seeded.profiles} profile and ${seeded.events} events of ${EXAMPLE_EMAIL}, each marked Example; the sink delivers them`,
          );
        });
      case 'pause':
      case 'resume':
      case 'remove': {
        const c = await store[a.sub](a.id);
        const what = {
          paused: 'paused: webhooks are still accepted and stored, delivery to Klaviyo waits',
          active: 'active: delivered',
          removed: 'removed: routing stops, its records stay replayable',
          needs_reauth: 'waiting for a new authorisation',
        }[c.status];
        io.stdout(`connection "${c.id}" (revision ${c.revision}) ${what}`);
        return EXIT.ok;
      }
      case 'reseal': {
        const sealing = config.connections.secretKeys[0].kid;
        const r = await store.reseal();
        io.stdout(
          `resealed ${r.resealed.length} connection(s) under key "${sealing}"${r.resealed.length ? `: ${r.resealed.join(', ')}` : ''}; ${r.unchanged.length} already under it`,
        );
        for (const u of r.unusable)
          io.stderr(`connections reseal: "${u.id}" cannot be read, not resealed: ${printable(u.reason)}`);
        if (r.unusable.length > 0) {
          io.stderr(
            'connections reseal: keep the keys those records need in CONNECTION_SECRET_KEYS (after the first) until they are resealed',
          );
          return EXIT.failure;
        }
        return EXIT.ok;
      }
    }
  } catch (e) {
    if (e instanceof ConnectionChangeError || e instanceof ProbeError || e instanceof Refused) {
      io.stderr(`${name}: ${printable(e.message)}`);
      return EXIT.failure;
    }
    throw e;
  } finally {
    await app
      .get<Producer>(PRODUCER)
      .disconnect()
      .catch(() => undefined);
    await app.close();
  }
}

type ResolvedAdd = Omit<ConnectionsAddArgs, 'intercomClientSecret' | 'intercomAccessToken' | 'klaviyoPrivateKey'> & {
  readonly intercomClientSecret: Secret;
  readonly intercomAccessToken: Secret;
  readonly klaviyoPrivateKey: Secret;
};

async function resolveSecrets(a: ConnectionsAddArgs, deps: ConnectionsDeps): Promise<ResolvedAdd> {
  const env = deps.env ?? {};
  let stdin: string | undefined;
  const resolve = async (flag: string, s: SecretSource): Promise<Secret> => {
    let v: string | undefined;
    if (s.from === 'value') v = s.value;
    else if (s.from === 'env') {
      v = env[s.variable];
      if (v === undefined || v.trim() === '') throw new Error(`${flag} env:${s.variable}: the variable is not set`);
    } else {
      stdin ??= await (deps.readStdin ?? processStdin)();
      v = stdin.split(/\r?\n/)[0];
      if (!v || v.trim() === '') throw new Error(`${flag} -: standard input is empty`);
    }
    return new Secret(v.trim());
  };
  return {
    ...a,
    intercomClientSecret: await resolve('--intercom-client-secret', a.intercomClientSecret),
    intercomAccessToken: await resolve('--intercom-access-token', a.intercomAccessToken),
    klaviyoPrivateKey: await resolve('--klaviyo-private-key', a.klaviyoPrivateKey),
  };
}

async function addConnection(
  a: ResolvedAdd,
  directory: KafkaConnectionDirectory,
  store: ConnectionStore,
  probe: ConnectionProbe,
  io: CliIo,
  afterAdd: (c: Connection) => Promise<void>,
): Promise<number> {
  const existing = directory.get(a.id);
  if (existing && existing.status !== 'removed')
    throw new Refused(
      `connection "${a.id}" exists (${existing.status}, revision ${existing.revision}); pause, resume or remove it, or add under another id`,
    );
  const unusable = directory.unusable().find((u) => u.id === a.id);
  if (unusable) throw new Refused(`connection "${a.id}" exists but cannot be read (${unusable.reason})`);
  const intercomUrl = a.intercomApiUrl ?? INTERCOM_REGION_API[a.intercomRegion];
  const klaviyoUrl = a.klaviyoApiUrl ?? KLAVIYO_BASE_URL;

  const workspace = await probe.intercom(a.intercomAccessToken, intercomUrl);
  if (a.intercomAppId !== null && a.intercomAppId !== workspace.appId)
    throw new Refused(
      `the Intercom access token belongs to workspace ${workspace.appId}, not ${a.intercomAppId} (--intercom-app-id)`,
    );
  if (workspace.appId === ANY_WORKSPACE) throw new Refused(`Intercom answered the workspace id "${ANY_WORKSPACE}"`);
  io.stdout(
    `Intercom: workspace ${printable(workspace.appId)} "${printable(workspace.name)}" (region ${printable(workspace.region ?? '?')}), token of ${printable(workspace.admin)}`,
  );
  const account = await probe.klaviyo(a.klaviyoPrivateKey, klaviyoUrl);
  io.stdout(`Klaviyo: account ${printable(account.accountId)} "${printable(account.organizationName ?? '')}"`);

  const c = await store.put({
    id: a.id,
    name: a.name ?? a.id,
    intercom: {
      appId: workspace.appId,
      region: a.intercomRegion,
      apiBaseUrl: intercomUrl,
      auth: 'token',
      clientSecret: a.intercomClientSecret,
      accessToken: a.intercomAccessToken,
    },
    klaviyo: {
      accountId: account.accountId,
      apiBaseUrl: klaviyoUrl,
      auth: 'private_key',
      privateKey: a.klaviyoPrivateKey,
      oauth: null,
    },
    settings: {
      metricNames: a.metricNames,
      defaultPhoneRegion: a.defaultPhoneRegion,
      deleteOnArchive: a.deleteOnArchive,
    },
  });
  io.stdout(
    `added connection "${c.id}" (revision ${c.revision}): Intercom workspace ${printable(c.intercom.appId)} -> Klaviyo account ${printable(c.klaviyo.accountId ?? '')}; secrets sealed under key "${directory.keyIdsOf(c.id).join(', ')}"`,
  );
  await afterAdd(c);
  return EXIT.ok;
}

/** What list shows of a connection: never a secret (only whether each is set, and the key ids). */
function describeConnection(c: Connection, keyIds: readonly string[]) {
  return {
    id: c.id,
    name: c.name,
    status: c.status,
    revision: c.fromEnvironment ? null : c.revision,
    from_environment: c.fromEnvironment,
    updated_at: c.fromEnvironment ? null : new Date(c.updatedAt).toISOString(),
    intercom_app_id: c.intercom.appId === ANY_WORKSPACE ? null : c.intercom.appId,
    intercom_region: c.intercom.region,
    intercom_api_url: c.intercom.apiBaseUrl,
    klaviyo_account_id: c.klaviyo.accountId,
    klaviyo_api_url: c.klaviyo.apiBaseUrl,
    secrets: {
      intercom_client_secret: c.intercom.clientSecret !== null,
      intercom_access_token: c.intercom.accessToken !== null,
      klaviyo_private_key: c.klaviyo.privateKey !== null,
    },
    key_ids: [...keyIds],
  };
}

function list(directory: KafkaConnectionDirectory, json: boolean, io: CliIo): number {
  const rows = directory.allWithRemoved().map((c) => describeConnection(c, directory.keyIdsOf(c.id)));
  const unusable = directory.unusable();
  if (json) {
    for (const r of rows) io.stdout(printableJson(r));
    for (const u of unusable)
      io.stdout(printableJson({ id: u.id, status: 'unusable', revision: u.revision, reason: u.reason }));
    return EXIT.ok;
  }
  if (rows.length === 0 && unusable.length === 0) {
    io.stdout('no connections (CONNECTIONS_DEFAULT=off and none in the topic)');
    return EXIT.ok;
  }
  io.stdout(['ID', 'STATUS', 'REV', 'INTERCOM WORKSPACE', 'KLAVIYO ACCOUNT', 'KEY IDS', 'NAME'].join('\t'));
  for (const r of rows)
    io.stdout(
      [
        r.id,
        r.status,
        r.revision ?? '-',
        r.from_environment ? (r.intercom_app_id ?? 'any unclaimed') : r.intercom_app_id,
        r.klaviyo_account_id ?? '-',
        r.from_environment ? '(environment)' : r.key_ids.join(',') || '-',
        printable(r.name),
      ].join('\t'),
    );
  for (const u of unusable)
    io.stdout([printable(u.id), 'UNUSABLE', u.revision ?? '?', '-', '-', '-', printable(u.reason)].join('\t'));
  if (!directory.following)
    io.stderr('connections list: CONNECTION_SECRET_KEYS is not set: pipeline.connections.v1 was not read');
  return EXIT.ok;
}

/** `connections <sub> [args]` from an argument list (tests; main.ts parses with the same declaration). */
export async function runConnectionsCommand(
  args: string[],
  config: Config,
  io: CliIo,
  deps: ConnectionsDeps = {},
): Promise<number> {
  const parsed = parseConnectionsArgs(args);
  if (!parsed.ok) {
    io.stderr(`connections${args[0] ? ` ${args[0]}` : ''}: ${parsed.error}`);
    return EXIT.usage;
  }
  return runConnections(parsed.value, config, io, deps);
}
