import { loadConfig } from '@iks/config';
import { runReplayCommand } from './replay.command';
import { parseReplayArgs } from './replay.args';
import { confirmOrExit } from './confirm';
import { parseDlqFlags } from './dlq.args';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: (l: string) => void out.push(l), stderr: (l: string) => void err.push(l) } };
}

describe('replay command arguments', () => {
  it('parses each way to start, the end, the group and --yes', () => {
    expect(parseReplayArgs(['--topic', 'klaviyo.events.v1', '--from-beginning'])).toEqual({
      ok: true,
      value: {
        topic: 'klaviyo.events.v1',
        from: { kind: 'beginning' },
        toTime: null,
        group: null,
        connection: null,
        yes: false,
      },
    });
    expect(parseReplayArgs(['--topic=klaviyo.events.v1', '--from-offset', '0:12,2:7', '--yes'])).toMatchObject({
      ok: true,
      value: {
        from: {
          kind: 'offsets',
          offsets: [
            { partition: 0, offset: 12n },
            { partition: 2, offset: 7n },
          ],
        },
        yes: true,
      },
    });
    expect(
      parseReplayArgs(['--topic', 't', '--from-time', '2026-01-01T00:00:00Z', '--to-time', '2026-01-02']),
    ).toMatchObject({
      ok: true,
      value: { from: { kind: 'time', ms: Date.UTC(2026, 0, 1) }, toTime: Date.UTC(2026, 0, 2) },
    });
    expect(parseReplayArgs(['--topic', 't', '--from-beginning', '--group', 'iks-sink'])).toMatchObject({
      ok: true,
      value: { group: 'iks-sink' },
    });
  });

  it.each([
    [[], '--topic is required'],
    [['--topic', 't'], 'exactly one of --from-offset, --from-time, --from-beginning'],
    [['--topic', 't', '--from-beginning', '--from-time', '2026-01-01'], 'exactly one'],
    [['--topic', 't', '--from-offset', '0-12'], '--from-offset "0-12" must be partition:offset'],
    [['--topic', 't', '--from-offset', '0:1,0:2'], 'partition 0 twice'],
    [['--topic', 't', '--from-time', 'yesterday'], '--from-time "yesterday" is not an ISO 8601 date'],
    [['--topic', 't', '--from-time', '2026-02-01', '--to-time', '2026-01-01'], '--to-time must be after --from-time'],
    [
      ['--topic', 't', '--from-beginning', '--to-time', '2026-01-01', '--group', 'g'],
      '--to-time applies to a replay through a separate group only',
    ],
    [['--topic', '--from-beginning'], '--topic needs a value'],
    [['--topic', 't', '--from-beginning', '--force'], 'unknown argument "--force"'],
  ])('rejects %j', (args, message) => {
    const p = parseReplayArgs(args as string[]);
    expect(p.ok).toBe(false);
    expect((p as { error: string }).error).toContain(message);
  });

  it('exits 2 naming the valid topics for an unknown one, and for bad flags', async () => {
    const config = loadConfig({ TOPIC_PREFIX: 'x.' }, 'cli');
    const c = io();
    expect(await runReplayCommand(['--topic', 'klaviyo.nope.v1', '--from-beginning'], config, c.io)).toBe(2);
    expect(c.err[0]).toContain(
      'x.intercom.notifications.v1, x.klaviyo.events.v1, x.klaviyo.profiles.v1, x.klaviyo.deletions.v1',
    );
    const d = io();
    expect(await runReplayCommand(['--topic', 'klaviyo.events.v1'], config, d.io)).toBe(2);
    expect(d.err[0]).toContain('--from-offset');
  });
});

describe('confirmation', () => {
  it('--yes proceeds; no terminal and no --yes exits 2 naming --yes; a terminal asks', async () => {
    const c = io();
    expect(await confirmOrExit('replay', true, c.io, { isTTY: false, ask: async () => 'n' })).toBeNull();
    expect(await confirmOrExit('replay', false, c.io, { isTTY: false, ask: async () => 'y' })).toBe(2);
    expect(c.err[0]).toContain('--yes');
    expect(await confirmOrExit('replay', false, c.io, { isTTY: true, ask: async () => 'y' })).toBeNull();
    expect(await confirmOrExit('replay', false, c.io, { isTTY: true, ask: async () => '' })).toBe(1);
  });
});

describe('dlq flags', () => {
  it('parses list and reprocess flags and names the bad one', () => {
    expect(parseDlqFlags('list', ['--limit', '5', '--json'])).toMatchObject({
      ok: true,
      value: { limit: 5, json: true },
    });
    expect(parseDlqFlags('reprocess', ['--where', 'reason~Phone Number', '--yes'])).toMatchObject({
      ok: true,
      value: { where: 'Phone Number', yes: true },
    });
    expect(parseDlqFlags('reprocess', ['--where', 'class=Foo'])).toMatchObject({
      ok: false,
      error: expect.stringContaining('--where'),
    });
    expect(parseDlqFlags('list', ['--limit', '0'])).toMatchObject({
      ok: false,
      error: expect.stringContaining('--limit'),
    });
    expect(parseDlqFlags('list', ['--where', 'reason~x'])).toMatchObject({
      ok: false,
      error: expect.stringContaining('unknown argument'),
    });
  });
});
