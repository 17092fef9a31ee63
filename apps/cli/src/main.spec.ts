import { join } from 'node:path';
import { main } from './main';

// `map` runs offline, and a usage or configuration error stops before any command code: nothing
// here may load the Kafka client.
jest.mock('kafkajs', () => {
  throw new Error('kafkajs was loaded');
});

const FIXTURES = join(__dirname, '..', '..', '..', 'libs', 'mapping', 'fixtures');

async function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { stdout: (l) => void out.push(l), stderr: (l) => void err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('cli main', () => {
  it('--help lists every command and the exit codes, exit 0; no command prints the same help, exit 2', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    for (const name of ['schemas', 'map', 'backfill', 'replay', 'dlq', 'connections'])
      expect(help.out).toMatch(new RegExp(`^  ${name} `, 'm'));
    expect(help.out).toMatch(
      /Exit codes:\n {2}0 .*\n {2}1 .*\n {2}2 .*usage or configuration error.*\n {2}130 .*interrupted/,
    );
    const none = await run([]);
    expect(none).toEqual({ code: 2, out: help.out, err: '' });
  });

  it.each([
    [['schemas', 'register', '--help'], ['--dir <folder>']],
    [['schemas', 'check', '--help'], ['--dir <folder>']],
    [
      ['map', '--help'],
      [
        '<notification.json>',
        '--contacts <file>',
        '--subscriptions <file>',
        '--deleted <ids>',
        '--backfill',
        '--phone-region <CC>',
        '--delete-on-archive',
      ],
    ],
    [
      ['backfill', '--help'],
      [
        '--since <ISO date>',
        '--until <ISO date>',
        '--only <kinds>',
        '--restart',
        '--checkpoint-dir <dir>',
        '--app-id <id>',
        '--per-page <n>',
      ],
    ],
    [
      ['replay', '--help'],
      [
        '--topic <topic>',
        '--from-offset <P:O,...>',
        '--from-time <ISO>',
        '--from-beginning',
        '--to-time <ISO>',
        '--group <group>',
        '-y, --yes',
      ],
    ],
    [
      ['dlq', 'list', '--help'],
      ['<topic>', '--limit <N>', '--json'],
    ],
    [
      ['dlq', 'reprocess', '--help'],
      ['<topic>', '--where <reason~text>', '--from-beginning', '-y, --yes'],
    ],
    [
      ['connections', 'claim', '--help'],
      ['<connection-id>', 'intercom.notifications.unclaimed.v1', '--from-beginning', '-y, --yes'],
    ],
    [
      ['connections', 'add', '--help'],
      [
        '--id <id>',
        '--name <label>',
        '--intercom-access-token <secret>',
        '--intercom-client-secret <secret>',
        '--klaviyo-private-key <secret>',
        'env:<VARIABLE>',
        '--intercom-app-id <id>',
        '--intercom-region <region>',
        '--intercom-api-url <url>',
        '--klaviyo-api-url <url>',
        '--metric-name-overrides <json>',
        '--default-phone-region <XX>',
        '--delete-on-archive',
      ],
    ],
    [['connections', 'list', '--help'], ['--json']],
    [
      ['connections', 'remove', '--help'],
      ['<id>', '-y, --yes'],
    ],
    [['connections', 'reseal', '--help'], ['CONNECTION_SECRET_KEYS']],
  ])('%j describes the command and its options, exit 0', async (argv, options) => {
    const { code, out, err } = await run(argv);
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out).toMatch(/^Usage: cli /);
    for (const o of options) expect(out).toContain(o);
  });

  it.each([
    [['frob'], 'cli: unknown command "frob"'],
    [['dlq', 'frob', 'x'], 'dlq: unknown command "frob"'],
    [['replay', '--topic', 't'], 'replay: give exactly one of --from-offset, --from-time, --from-beginning'],
    [['replay', '--topic', 't', '--from-beginning', '--force'], 'replay: unknown argument "--force"'],
    [['replay', '--topic', 't', '--from-offset', '0:1', '--from-offset', '1:1'], 'replay: --from-offset given twice'],
    [['backfill', '--since'], 'backfill: --since needs a value'],
    [
      ['backfill', '--since', '2026-01-01', '--per-page', '500'],
      'backfill: --per-page must be an integer from 1 to 150',
    ],
    [['dlq', 'list'], 'dlq list: missing <topic>'],
    [['dlq', 'list', 'klaviyo.events.v1', '--limit', '0'], 'dlq list: --limit needs a positive integer (got "0")'],
    [['dlq', 'reprocess', 'klaviyo.events.v1', '--where', 'class=Foo'], 'dlq reprocess: --where takes reason~<text>'],
    [['map'], 'map: missing <notification.json>'],
    [['connections', 'claim'], 'connections claim: missing <connection-id>'],
    [['connections', 'claim', 'Acme_EU'], 'connections claim: "Acme_EU" is not a connection id'],
    [['connections', 'claim', 'acme', 'globex'], 'connections claim: too many arguments'],
    [['schemas', 'check', '--dir'], 'schemas check: --dir needs a value'],
    [
      ['connections', 'add', '--id', 'acme'],
      'connections add: needs --intercom-access-token, --intercom-client-secret, --klaviyo-private-key',
    ],
    [
      ['connections', 'add', '--id', 'a', '--intercom-region', 'MARS'],
      'connections add: --intercom-region must be US, EU or AU (got "MARS")',
    ],
    [
      ['connections', 'add', '--id', 'a', '--default-phone-region', 'gb'],
      'connections add: --default-phone-region must be an ISO 3166 alpha-2 code like US (got "gb")',
    ],
    [
      ['connections', 'add', '--id', 'a', '--metric-name-overrides', '{"Nope":"x"}'],
      'connections add: --metric-name-overrides has unknown metric "Nope"',
    ],
    [
      ['connections', 'add', '--id', 'a', '--klaviyo-private-key', 'env:'],
      'connections add: --klaviyo-private-key env:<VARIABLE> needs a variable name',
    ],
    [['connections', 'pause'], 'connections pause: missing <id>'],
  ])('%j is a usage error: exit 2, the message names the command and points to its --help', async (argv, message) => {
    const { code, out, err } = await run(argv);
    expect({ code, out }).toEqual({ code: 2, out: '' });
    expect(err).toContain(message);
    expect(err).toMatch(/--help lists the options\)$/);
  });

  it('a command group without its subcommand shows its help on stderr, exit 2', async () => {
    const { code, err } = await run(['dlq']);
    expect(code).toBe(2);
    expect(err).toMatch(/list \[options\] <topic>[\s\S]*reprocess \[options\] <topic>/);
  });

  it('a bad environment variable is a configuration error, exit 2 naming it', async () => {
    const saved = process.env.KAFKA_BROKERS;
    process.env.KAFKA_BROKERS = 'nohost';
    try {
      const { code, err } = await run(['replay', '--topic', 'klaviyo.events.v1', '--from-beginning', '--yes']);
      expect(code).toBe(2);
      expect(err).toContain('KAFKA_BROKERS entry "nohost" must be host:port');
    } finally {
      if (saved === undefined) delete process.env.KAFKA_BROKERS;
      else process.env.KAFKA_BROKERS = saved;
    }
  });

  it('map runs offline through the parser: records on stdout, exit 0; an unreadable file, exit 2', async () => {
    const ok = await run([
      'map',
      join(FIXTURES, 'notifications', 'ticket.resolved.json'),
      '--contacts',
      join(FIXTURES, 'contacts.json'),
      '--admins',
      join(FIXTURES, 'admins.json'),
    ]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({
      kind: 'event',
      metric: 'Ticket Resolved',
      unique_id: 'intercom:ticket:2189:state:resolved:1764086400',
    });
    const skip = await run(['map', join(FIXTURES, 'notifications', 'company.created.json')]);
    expect(skip).toEqual({ code: 0, out: '', err: 'skip: unmapped topic company.created' });
    const unreadable = await run(['map', '/nonexistent/n.json']);
    expect(unreadable.code).toBe(2);
    expect(unreadable.err).toContain('cannot read /nonexistent/n.json');
  });
});
