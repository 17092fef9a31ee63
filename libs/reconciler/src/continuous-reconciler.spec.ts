import { Registry } from 'prom-client';
import type { BackfillRecord } from '@iks/backfill';
import type { IntercomObject } from '@iks/intercom';
import { conversationLifecycle, generateDataset } from '../../../tools/intercom-emulator/src';
import { ContinuousReconciler, type ContinuousDeps, type ContinuousOptions } from './continuous-reconciler';
import type { ProducedIndex } from './produced-index';

const data = generateDataset({ seed: 3, contacts: 4, conversations: 0, tickets: 0 });
const NOW = 1_800_000_000_000;
const T0 = NOW / 1000 - 3600; // the conversation started an hour ago
const conversation = conversationLifecycle({
  contact: data.contacts.find((c) => c.email)!,
  admin: data.admins[0],
  startAt: T0,
  appId: data.appId,
  id: '5551',
  rating: 5,
}).at(-1)!.data.item;
const CREATED = 'intercom:conversation:5551:created';

/** An index in memory: the ids "produced", the ids healed (ProducedIndex's contract, no file). */
function memoryIndex(produced: string[] = []) {
  const ids = new Set(produced);
  const healed = new Set<string>();
  return {
    hasEvent: (id: string) => ids.has(id),
    wasHealed: (id: string) => healed.has(id),
    markHealed: (id: string) => void healed.add(id),
    profileUpdatedAt: () => undefined,
    save: () => undefined,
    produce: (id: string) => void ids.add(id),
  };
}

function setup(over: Partial<ContinuousOptions> = {}, produced: string[] = [], intercomDown = false) {
  const searches: Array<{ kind: string; value: unknown }> = [];
  const written: BackfillRecord[] = [];
  const tombstoned: string[] = [];
  const reports: Array<Parameters<NonNullable<ContinuousDeps['publishReport']>>[0]> = [];
  const index = memoryIndex(produced);
  const registry = new Registry();
  const intercom = {
    search: async (kind: string, query: { value: unknown }) => {
      if (intercomDown) throw new Error('connect ECONNREFUSED 127.0.0.1:1');
      searches.push({ kind, value: query.value });
      return {
        items: kind === 'conversations' ? [conversation as unknown as IntercomObject] : [],
        next: undefined,
        totalCount: 1,
        page: 1,
      };
    },
  };
  const r = new ContinuousReconciler(
    {
      intervalMs: 60_000,
      windowMs: 2 * 3600_000,
      settleMs: 120_000,
      outageMarginMs: 60_000,
      appId: data.appId,
      kinds: ['conversations'],
      ...over,
    },
    {
      intercom: intercom as never,
      index: index as unknown as ProducedIndex,
      registry,
      now: () => NOW,
      sink: { write: async (rs) => void written.push(...rs) },
      refreshIndex: async () => 0,
      outageDone: async (key) => void tombstoned.push(key),
      publishReport: async (report) => void reports.push(report),
    },
  );
  return { r, searches, written, tombstoned, index, registry, reports };
}

describe('ContinuousReconciler', () => {
  it('reconciles the recent window at start: what is missing is healed once, counted per metric, the window kept', async () => {
    const { r, searches, written, registry, reports } = setup({}, [CREATED]);
    r.start();
    await r.idle();
    await r.stop();
    // [now − 2 h, now − 2 min), searched by updated_at > since − 1
    expect(searches).toEqual([{ kind: 'conversations', value: NOW / 1000 - 7200 - 1 }]);
    expect(r.last).toMatchObject({ since: NOW / 1000 - 7200, until: NOW / 1000 - 120, trigger: 'schedule' });
    // Replied and Rated were never produced; Created was; Read is never derived
    expect(written.map((w) => w.notification.topic).sort()).toEqual([
      'conversation.rating.added',
      'conversation.user.replied',
    ]);
    expect(written.every((w) => w.notification.source === 'reconcile')).toBe(true);
    const text = await registry.metrics();
    expect(text).toContain(
      'iks_reconcile_healed_total{metric="Replied to Conversation",trigger="schedule",connection="default"} 1',
    );
    expect(text).toContain(
      'iks_reconcile_missing_total{metric="Conversation Rated",trigger="schedule",connection="default"} 1',
    );
    expect(text).not.toMatch(/metric="Conversation Created"/);
    expect(text).toContain(`iks_reconcile_last_window_seconds{edge="until",connection="default"} ${NOW / 1000 - 120}`);
    expect(r.readiness().intercom.up).toBe(true);
    // the window's report, for pipeline.reconcile.v1 (the console's Gaps page)
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({
      trigger: 'schedule',
      since: NOW - 7200_000,
      until: NOW - 120_000,
      outcome: 'ok',
      error: null,
      outage_key: null,
      objects: 1,
    });
    expect(reports[0].rows.find((x) => x.name === 'Conversation Rated')).toEqual({
      name: 'Conversation Rated',
      expected: 1,
      present: 0,
      healed_pending: 0,
      missing: 1,
      healed: 1,
    });
    expect(reports[0].rows.find((x) => x.name === 'Conversation Created')).toMatchObject({
      expected: 1,
      present: 1,
      missing: 0,
    });
  });

  it('reconciles an outage ingest reported over [since − margin, until], once its retry minute is over, then tombstones it', async () => {
    const { r, searches, tombstoned, reports } = setup({ settleMs: 0 });
    const outage = { since: NOW - 600_000, until: NOW - 300_000, failed_writes: 12, reporter: 'ingest@h' };
    r.outage('ingest@h:1', outage);
    r.outage('ingest@h:2', outage);
    r.outage('ingest@h:2', null); // already reconciled by another run: its tombstone
    await new Promise((res) => setTimeout(res, 20));
    await r.idle();
    expect(searches).toEqual([{ kind: 'conversations', value: (NOW - 600_000 - 60_000) / 1000 - 1 }]);
    expect(r.last).toMatchObject({
      since: (NOW - 660_000) / 1000,
      until: (NOW - 300_000) / 1000 + 1,
      trigger: 'outage',
    });
    expect(tombstoned).toEqual(['ingest@h:1']);
    expect(reports.map((x) => [x.trigger, x.outage_key, x.outcome])).toEqual([['outage', 'ingest@h:1', 'ok']]);
    await r.stop();
  });

  it('says in readiness that Intercom cannot be reached, and why', async () => {
    const { r, registry, reports } = setup({}, [], true);
    expect(r.readiness().intercom).toEqual({
      up: false,
      detail: expect.objectContaining({ reason: 'cannot reach Intercom: not contacted yet' }),
    });
    r.start();
    await r.idle();
    await r.stop();
    expect(r.readiness().intercom).toEqual({
      up: false,
      detail: expect.objectContaining({ reason: 'cannot reach Intercom: connect ECONNREFUSED 127.0.0.1:1' }),
    });
    expect(r.last).toBeNull();
    expect(await registry.metrics()).toContain(
      'iks_reconcile_runs_total{trigger="schedule",outcome="failed",connection="default"} 1',
    );
    expect(reports).toEqual([
      expect.objectContaining({ outcome: 'failed', error: 'connect ECONNREFUSED 127.0.0.1:1', rows: [] }),
    ]);
  });
});
