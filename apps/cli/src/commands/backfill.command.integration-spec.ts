import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '@iks/config';
import type { IntercomObject } from '@iks/intercom';
import { createNotificationWriter } from '@iks/ingest';
import { startIntercomEmulator, type IntercomEmulator } from '../../../../tools/intercom-emulator/src';
import { testConfig } from '../../../../test/support/test-config';
import { runBackfillCommand } from './backfill.command';
import { deriveNotifications, type BackfillKind, type BackfillRecord, NotificationWriterSink } from '@iks/backfill';
import { readRawNotifications, type RawRead } from '../../../../test/support/raw-topic';

const DATASET = { seed: 11, contacts: 45, conversations: 30, tickets: 20 };

/** The one derivation (rest-derivation.ts) over the objects as GET /conversations/{id} and /tickets/{id} answer them. */
function expectedRecords(emu: IntercomEmulator): BackfillRecord[] {
  const d = emu.dataset;
  const derive = (kind: BackfillKind, o: unknown) =>
    deriveNotifications(kind, o as IntercomObject, { appId: d.appId, source: 'backfill' }).notifications.map(
      ({ key, notification }) => ({ key, notification }),
    );
  return [
    ...d.contacts.flatMap((c) => derive('contacts', c)),
    ...d.conversations.flatMap((c) => derive('conversations', c)),
    ...d.tickets.flatMap((t) => derive('tickets', t)),
  ];
}

function capture() {
  const lines: string[] = [];
  return { lines, io: { stdout: (l: string) => void lines.push(l), stderr: (l: string) => void lines.push(l) } };
}

describe('backfill: Intercom emulator → intercom.notifications.v1 (real broker and registry)', () => {
  let emu: IntercomEmulator;
  let config: Config;
  let dir: string;
  let args: string[];

  beforeEach(async () => {
    emu = await startIntercomEmulator({ dataset: DATASET, rateLimit: { perWindow: 10_000, windowSeconds: 1 } });
    config = testConfig('cli', { INTERCOM_ACCESS_TOKEN: emu.accessToken, INTERCOM_BASE_URL: emu.url });
    dir = mkdtempSync(join(tmpdir(), 'iks-backfill-'));
    args = [
      '--since',
      '2025-12-01',
      '--until',
      '2026-12-01',
      '--per-page',
      '10',
      '--app-id',
      emu.dataset.appId,
      '--checkpoint-dir',
      dir,
    ];
  });
  afterEach(() => emu.close());

  it('writes every seeded object once, as webhook envelopes keyed like webhooks', async () => {
    const expected = expectedRecords(emu);
    const out = capture();
    const progress: string[] = [];
    const code = await runBackfillCommand(args, config, out.io, {
      progress: { write: (s: string) => progress.push(s) },
      onInterrupt: () => () => undefined,
    });
    expect(code).toBe(0);
    expect(progress.some((l) => /^backfill conversations page 1: 10 objects/.test(l))).toBe(true);
    expect(out.lines.join('\n')).toMatch(/backfill completed: 95 objects read/);

    const seen = await readRawNotifications(config, expected.length);
    const byId = new Map<string, RawRead[]>();
    for (const s of seen) byId.set(s.value.notification_id, [...(byId.get(s.value.notification_id) ?? []), s]);
    expect(seen).toHaveLength(expected.length);
    expect(seen.filter((s) => !s.sealed).map((s) => s.value.notification_id)).toEqual([]);
    for (const e of expected) {
      const got = byId.get(e.notification.notification_id);
      expect(got).toHaveLength(1);
      expect(got![0].key).toBe(e.key);
      expect(got![0].value).toMatchObject({ ...e.notification, received_at: expect.any(Number) });
      expect(got![0].value.source).toBe('backfill');
    }
    // the search asked for the window by updated_at, 10 per page
    const first = emu.requests.find((r) => r.path === '/contacts/search')!;
    expect(first.body).toMatchObject({ pagination: { per_page: 10 } });
    expect(JSON.stringify(first.body)).toContain('"updated_at"');
  });

  it('interrupted, then crashed after an ack, then resumed: nothing missing, re-written records identical', async () => {
    const expected = expectedRecords(emu);
    // 1) Ctrl-C after the 3rd page: the page in flight is finished and checkpointed, exit 130
    let interrupt: () => void = () => undefined;
    let pages = 0;
    const first = capture();
    const code1 = await runBackfillCommand(args, config, first.io, {
      onInterrupt: (h) => ((interrupt = h), () => undefined),
      progress: { write: () => void (++pages === 3 && interrupt()) },
    });
    expect(code1).toBe(130);
    expect(first.lines.join('\n')).toMatch(/backfill interrupted: 30 objects read/);

    // 2) a crash after Kafka acknowledged a page but before its checkpoint was saved
    const writer = await createNotificationWriter(config);
    await writer.start();
    let written = 0;
    const real = new NotificationWriterSink(writer);
    const crashing = {
      write: async (records: readonly BackfillRecord[]) => {
        await real.write(records);
        if (++written === 2) throw new Error('simulated crash after the ack');
      },
    };
    const second = capture();
    try {
      await expect(
        runBackfillCommand(args, config, second.io, {
          sink: crashing,
          onInterrupt: () => () => undefined,
          progress: { write: () => undefined },
        }),
      ).rejects.toThrow('simulated crash');
    } finally {
      await writer.stop();
    }

    // 3) resume to the end
    const third = capture();
    expect(
      await runBackfillCommand(args, config, third.io, {
        onInterrupt: () => () => undefined,
        progress: { write: () => undefined },
      }),
    ).toBe(0);
    expect(third.lines.join('\n')).toMatch(/backfill completed \(resumed\): 55 objects read/);

    const seen = await readRawNotifications(config, expected.length + 5);
    const byId = new Map<string, RawRead[]>();
    for (const s of seen) byId.set(s.value.notification_id, [...(byId.get(s.value.notification_id) ?? []), s]);
    const missing = expected.filter((e) => !byId.has(e.notification.notification_id));
    expect(missing).toEqual([]);
    expect(byId.size).toBe(expected.length);
    const twice = [...byId.values()].filter((l) => l.length > 1);
    // contacts are pages 1-5 (45 = 4 × 10 + 5): the crash hit page 5, which alone is written again
    expect(twice).toHaveLength(5);
    for (const [a, b] of twice) {
      expect(b.key).toBe(a.key);
      expect({ ...b.value, received_at: 0 }).toEqual({ ...a.value, received_at: 0 });
    }
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(files).toHaveLength(1);
    const cp = JSON.parse(readFileSync(join(dir, files[0]), 'utf8')) as {
      kinds: Record<string, { done: boolean; cursor: string | null }>;
    };
    expect(Object.values(cp.kinds).map((k) => [k.done, k.cursor])).toEqual([
      [true, null],
      [true, null],
      [true, null],
    ]);
  });

  it('waits out 429s from Intercom and still writes everything', async () => {
    const expected = expectedRecords(emu);
    emu.injectFault({ status: 429, count: 2 });
    emu.injectFault({ status: 503, count: 1 });
    const out = capture();
    expect(
      await runBackfillCommand([...args, '--only', 'conversations,tickets'], config, out.io, {
        onInterrupt: () => () => undefined,
        progress: { write: () => undefined },
      }),
    ).toBe(0);
    const statuses = emu.requests.map((r) => r.status);
    expect(statuses.slice(0, 4)).toEqual([429, 429, 503, 200]);
    const want = expected.filter((e) => !e.notification.notification_id.startsWith('backfill:contact:'));
    const seen = await readRawNotifications(config, want.length);
    expect(new Set(seen.map((s) => s.value.notification_id))).toEqual(
      new Set(want.map((e) => e.notification.notification_id)),
    );
    expect(seen).toHaveLength(want.length);
  });
});
