import { loadConfig } from '@iks/config';
import { runBackfillCommand } from './backfill.command';
import { parseBackfillArgs } from './backfill.args';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: (l: string) => void out.push(l), stderr: (l: string) => void err.push(l) } };
}

describe('backfill command arguments', () => {
  it('parses the window, the kinds (contacts first) and the flags', () => {
    const p = parseBackfillArgs([
      '--since',
      '2026-01-01',
      '--until=2026-02-01T12:00:00Z',
      '--only',
      'tickets,contacts',
      '--restart',
      '--checkpoint-dir',
      '/tmp/cp',
    ]);
    expect(p).toEqual({
      ok: true,
      value: {
        since: Date.UTC(2026, 0, 1) / 1000,
        until: Date.UTC(2026, 1, 1, 12) / 1000,
        kinds: ['contacts', 'tickets'],
        restart: true,
        checkpointDir: '/tmp/cp',
        appId: null,
        perPage: 150,
        connection: null,
      },
    });
    expect(parseBackfillArgs(['--since', '2026-01-01T00:00:00+02:00'])).toMatchObject({
      ok: true,
      value: { until: null, kinds: ['contacts', 'conversations', 'tickets'], checkpointDir: '.checkpoints' },
    });
  });

  it.each([
    [[], /--since is required/],
    [['--since'], /--since needs a value/],
    [['--since', 'yesterday'], /not an ISO 8601 date/],
    [['--since', '2026-02-01', '--until', '2026-01-01'], /--until must be after --since/],
    [['--since', '2026-01-01', '--only', 'companies'], /--only takes contacts,conversations,tickets/],
    [['--since', '2026-01-01', '--per-page', '500'], /--per-page/],
    [['--since', '2026-01-01', '--bogus'], /unknown argument/],
  ])('%j is a usage error', (args, message) => {
    const p = parseBackfillArgs(args as string[]);
    expect(p.ok).toBe(false);
    expect((p as { error: string }).error).toMatch(message);
  });

  it('exits 2 with a message on bad arguments, before any I/O', async () => {
    const t = io();
    expect(await runBackfillCommand(['--since', 'nope'], loadConfig({}), t.io)).toBe(2);
    expect(t.err.join('\n')).toMatch(/usage: backfill/);
  });

  it('exits 2 naming INTERCOM_ACCESS_TOKEN when it is missing', async () => {
    const t = io();
    expect(await runBackfillCommand(['--since', '2026-01-01'], loadConfig({}), t.io)).toBe(2);
    expect(t.err.join('\n')).toMatch(/INTERCOM_ACCESS_TOKEN is not set/);
  });
});
