import { Command, InvalidArgumentError, Option } from 'commander';
import { parseMetricNameOverrides } from '@iks/config';
import type { MetricKey } from '@iks/domain';
import { cliCommand, parseWith, value, type Parsed } from './command-args';
import { connectionsClaimSubcommand } from './connections-claim.args';

/** The subcommands parsed here; `claim` has its own arguments (connections-claim.args.ts). */
export type ConnectionsSub = 'add' | 'list' | 'pause' | 'resume' | 'remove' | 'reseal';
export const CONNECTIONS_SUBS: readonly ConnectionsSub[] = ['add', 'list', 'pause', 'resume', 'remove', 'reseal'];

/** Where a secret comes from: the command line as given, an environment variable, or standard input. */
export type SecretSource =
  | { readonly from: 'value'; readonly value: string }
  | { readonly from: 'env'; readonly variable: string }
  | { readonly from: 'stdin' };

export const SECRET_FLAGS = ['--intercom-client-secret', '--intercom-access-token', '--klaviyo-private-key'] as const;

export interface ConnectionsAddArgs {
  readonly id: string;
  readonly name: string | null;
  readonly intercomAppId: string | null;
  readonly intercomRegion: 'US' | 'EU' | 'AU';
  readonly intercomApiUrl: string | null;
  readonly intercomClientSecret: SecretSource;
  readonly intercomAccessToken: SecretSource;
  readonly klaviyoPrivateKey: SecretSource;
  readonly klaviyoApiUrl: string | null;
  readonly metricNames: Readonly<Partial<Record<MetricKey, string>>>;
  readonly defaultPhoneRegion: string | null;
  readonly deleteOnArchive: boolean;
}

export type ConnectionsArgs =
  | { readonly sub: 'add'; readonly add: ConnectionsAddArgs }
  | { readonly sub: 'list'; readonly json: boolean }
  | { readonly sub: 'pause' | 'resume'; readonly id: string }
  | { readonly sub: 'remove'; readonly id: string; readonly yes: boolean }
  | { readonly sub: 'reseal' };

const once = <T>(flag: string, parse: (v: string) => T) => {
  const take = value(flag);
  return (v: string, previous: unknown): T => parse(take(v, previous));
};

/** `<value>`, `env:<VARIABLE>` or `-` (standard input). */
const secret = (flag: string) =>
  once<SecretSource>(flag, (v) => {
    if (v === '-') return { from: 'stdin' };
    if (v.startsWith('env:')) {
      const variable = v.slice(4);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable))
        throw new InvalidArgumentError(
          `${flag} env:<VARIABLE> needs a variable name (got "env:${variable.slice(0, 40)}")`,
        );
      return { from: 'env', variable };
    }
    return { from: 'value', value: v };
  });

const httpUrl = (flag: string) =>
  once(flag, (v) => {
    try {
      if (!/^https?:$/.test(new URL(v).protocol)) throw new Error('protocol');
    } catch {
      throw new InvalidArgumentError(`${flag} must be an http(s) URL (got "${v.slice(0, 80)}")`);
    }
    return v.replace(/\/+$/, '');
  });

const SECRET_HELP = 'a value, env:<VARIABLE> (read from the environment) or - (read a line from standard input)';

function declareAdd(cmd: Command): Command {
  return cmd
    .description(
      'add a connection (an Intercom workspace -> a Klaviyo account), validated live: Intercom GET /me, Klaviyo GET /api/accounts; its secrets are sealed under the first key of CONNECTION_SECRET_KEYS',
    )
    .addOption(
      new Option('--id <id>', 'the connection id: 1-63 lower-case letters, digits, dashes').argParser(value('--id')),
    )
    .addOption(new Option('--name <label>', 'a label for people (default: the id)').argParser(value('--name')))
    .addOption(
      new Option('--intercom-access-token <secret>', `Intercom access token (${SECRET_HELP})`).argParser(
        secret('--intercom-access-token'),
      ),
    )
    .addOption(
      new Option(
        '--intercom-client-secret <secret>',
        `the Intercom app's client secret, signing its webhooks (${SECRET_HELP})`,
      ).argParser(secret('--intercom-client-secret')),
    )
    .addOption(
      new Option('--klaviyo-private-key <secret>', `Klaviyo private API key (${SECRET_HELP})`).argParser(
        secret('--klaviyo-private-key'),
      ),
    )
    .addOption(
      new Option(
        '--intercom-app-id <id>',
        "the workspace id; checked against GET /me's app.id_code (default: taken from it)",
      ).argParser(value('--intercom-app-id')),
    )
    .addOption(
      new Option(
        '--intercom-region <region>',
        "the workspace's region, US, EU or AU (its API host; default US)",
      ).argParser(
        once('--intercom-region', (v) => {
          if (v !== 'US' && v !== 'EU' && v !== 'AU')
            throw new InvalidArgumentError(`--intercom-region must be US, EU or AU (got "${v.slice(0, 10)}")`);
          return v;
        }),
      ),
    )
    .addOption(
      new Option(
        '--intercom-api-url <url>',
        "Intercom API base URL instead of the region's (an emulator, a proxy)",
      ).argParser(httpUrl('--intercom-api-url')),
    )
    .addOption(
      new Option('--klaviyo-api-url <url>', 'Klaviyo API base URL (default https://a.klaviyo.com)').argParser(
        httpUrl('--klaviyo-api-url'),
      ),
    )
    .addOption(
      new Option('--metric-name-overrides <json>', 'as METRIC_NAME_OVERRIDES, for this connection').argParser(
        once('--metric-name-overrides', (v) => {
          const { value: names, problems } = parseMetricNameOverrides(v, '--metric-name-overrides');
          if (problems.length > 0) throw new InvalidArgumentError(problems.join('; '));
          return names;
        }),
      ),
    )
    .addOption(
      new Option('--default-phone-region <XX>', 'as DEFAULT_PHONE_REGION, for this connection').argParser(
        once('--default-phone-region', (v) => {
          if (!/^[A-Z]{2}$/.test(v))
            throw new InvalidArgumentError(
              `--default-phone-region must be an ISO 3166 alpha-2 code like US (got "${v.slice(0, 10)}")`,
            );
          return v;
        }),
      ),
    )
    .option('--delete-on-archive', 'as DELETE_ON_ARCHIVE=true, for this connection');
}

/** The declaration of `connections add|list|pause|resume|remove|reseal|claim`; main.ts adds it to the program. */
export function connectionsCommand(): Command {
  const group = cliCommand('connections').description(
    'add, list, pause, resume, remove or reseal the connections (Intercom workspace -> Klaviyo account) in pipeline.connections.v1',
  );
  group.addCommand(declareAdd(cliCommand('add')));
  group.addCommand(
    cliCommand('list')
      .description(
        'every connection: status, revision, workspace, account and the key ids its secrets are sealed under (never a secret)',
      )
      .option('--json', 'one JSON object a line'),
  );
  group.addCommand(
    cliCommand('pause')
      .argument('<id>', 'the connection')
      .description('pause delivery: webhooks are still accepted and stored, delivery to Klaviyo waits'),
  );
  group.addCommand(
    cliCommand('resume').argument('<id>', 'the connection').description('resume delivery of a paused connection'),
  );
  group.addCommand(
    cliCommand('remove')
      .argument('<id>', 'the connection')
      .description(
        "stop routing the connection's workspace (its records stay replayable; a later webhook is kept as unclaimed)",
      )
      .option('-y, --yes', 'proceed without asking (required without a terminal)'),
  );
  group.addCommand(
    cliCommand('reseal').description(
      'after a key rotation: re-write every connection whose secrets are not sealed under the first key of CONNECTION_SECRET_KEYS',
    ),
  );
  group.addCommand(connectionsClaimSubcommand());
  return group;
}

/** The add options as commander gives them → typed arguments, or the usage error. */
export function connectionsAddArgsFrom(
  o: Record<string, unknown>,
): { ok: true; value: ConnectionsAddArgs } | { ok: false; error: string } {
  const missing = [
    ['--id', o.id],
    ['--intercom-access-token', o.intercomAccessToken],
    ['--intercom-client-secret', o.intercomClientSecret],
    ['--klaviyo-private-key', o.klaviyoPrivateKey],
  ]
    .filter(([, v]) => v === undefined)
    .map(([f]) => f);
  if (missing.length > 0)
    return {
      ok: false,
      error: `needs ${missing.join(', ')} (secrets: ${SECRET_HELP})`,
    };
  const stdin = [o.intercomClientSecret, o.intercomAccessToken, o.klaviyoPrivateKey].filter(
    (s) => (s as SecretSource).from === 'stdin',
  ).length;
  if (stdin > 1)
    return {
      ok: false,
      error: 'only one secret can be read from standard input (-); give the others as env:<VARIABLE>',
    };
  return {
    ok: true,
    value: {
      id: o.id as string,
      name: (o.name as string | undefined) ?? null,
      intercomAppId: (o.intercomAppId as string | undefined) ?? null,
      intercomRegion: (o.intercomRegion as 'US' | 'EU' | 'AU' | undefined) ?? 'US',
      intercomApiUrl: (o.intercomApiUrl as string | undefined) ?? null,
      intercomClientSecret: o.intercomClientSecret as SecretSource,
      intercomAccessToken: o.intercomAccessToken as SecretSource,
      klaviyoPrivateKey: o.klaviyoPrivateKey as SecretSource,
      klaviyoApiUrl: (o.klaviyoApiUrl as string | undefined) ?? null,
      metricNames: (o.metricNameOverrides as Partial<Record<MetricKey, string>> | undefined) ?? {},
      defaultPhoneRegion: (o.defaultPhoneRegion as string | undefined) ?? null,
      deleteOnArchive: o.deleteOnArchive === true,
    },
  };
}

/** `connections <sub> [args]` → typed arguments (the same declaration main.ts uses). */
export function parseConnectionsArgs(args: readonly string[]): Parsed<ConnectionsArgs> {
  const [sub, ...rest] = args;
  if (!(CONNECTIONS_SUBS as readonly string[]).includes(sub ?? ''))
    return { ok: false, error: `unknown subcommand "${sub ?? ''}"` };
  const cmd = connectionsCommand().commands.find((c) => c.name() === sub)!;
  const parsed = parseWith(cmd, rest);
  if (!parsed.ok) return parsed;
  const { opts, args: positional } = parsed.value;
  switch (sub as ConnectionsSub) {
    case 'add': {
      const add = connectionsAddArgsFrom(opts);
      return add.ok ? { ok: true, value: { sub: 'add', add: add.value } } : add;
    }
    case 'list':
      return { ok: true, value: { sub: 'list', json: opts.json === true } };
    case 'reseal':
      return { ok: true, value: { sub: 'reseal' } };
    case 'remove':
      return { ok: true, value: { sub: 'remove', id: positional[0], yes: opts.yes === true } };
    default:
      return { ok: true, value: { sub: sub as 'pause' | 'resume', id: positional[0] } };
  }
}
