import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IntercomApiError, type IntercomObject, type PageOptions, type SearchPage } from '@iks/intercom';
import type { BackfillRecord } from './backfill.types';
import { CheckpointStore } from './backfill-checkpoint';
import { BackfillProgress } from './backfill-progress';
import { BackfillRunner } from './backfill.runner';

/** A search double: `n` contacts, pages of `perPage`, cursor = index of the next item. */
function fakeSearch(n: number, opts: { rejectCursorOnce?: boolean } = {}) {
  const items: IntercomObject[] = Array.from({ length: n }, (_, i) => ({
    type: 'contact',
    id: `c${i}`,
    role: 'user',
    created_at: 1000 + i,
    updated_at: 2000 + i,
  }));
  const calls: Array<string | null> = [];
  let rejected = false;
  return {
    calls,
    async search(_kind: string, _q: unknown, o: PageOptions = {}): Promise<SearchPage> {
      calls.push(o.startingAfter ?? null);
      if (o.startingAfter && opts.rejectCursorOnce && !rejected) {
        rejected = true;
        throw new IntercomApiError(400, 'invalid_cursor', 'expired', false);
      }
      const from = o.startingAfter ? Number(o.startingAfter) : 0;
      const to = Math.min(n, from + (o.perPage ?? 150));
      return {
        items: items.slice(from, to),
        totalCount: n,
        next: to < n ? String(to) : undefined,
        page: undefined,
        totalPages: undefined,
      };
    },
  };
}

function memorySink() {
  const written: BackfillRecord[] = [];
  return { written, write: async (r: readonly BackfillRecord[]) => void written.push(...r) };
}

const store = () =>
  new CheckpointStore(mkdtempSync(join(tmpdir(), 'iks-cp-')), {
    since: 1,
    until: 9999,
    topic: 't',
    baseUrl: 'http://x',
  });
const opts = { since: 1, until: 9999, kinds: ['contacts'] as const, appId: 'app', perPage: 10 };

describe('BackfillRunner', () => {
  it('stops after the page in flight when asked, and resumes from the checkpoint', async () => {
    const s = store();
    const sink = memorySink();
    const stop = new AbortController();
    const first = await new BackfillRunner(fakeSearch(35), sink, s).run({
      ...opts,
      stop: stop.signal,
      onPage: (e) => e.page === 2 && stop.abort(),
    });
    expect(first).toMatchObject({ outcome: 'interrupted', objects: 20, pages: 2, resumed: false });
    expect(s.load()!.kinds.contacts).toMatchObject({ cursor: '20', done: false, objects: 20 });

    const search = fakeSearch(35);
    const second = await new BackfillRunner(search, sink, s).run(opts);
    expect(second).toMatchObject({ outcome: 'completed', objects: 15, pages: 2, resumed: true });
    expect(search.calls).toEqual(['20', '30']);
    expect(new Set(sink.written.map((r) => r.notification.notification_id)).size).toBe(35);
    expect(sink.written).toHaveLength(35);
  });

  it('does not advance the checkpoint when the write fails', async () => {
    const s = store();
    let calls = 0;
    const bad = {
      write: async () => {
        if (++calls === 2) throw new Error('kafka down');
      },
    };
    await expect(new BackfillRunner(fakeSearch(35), bad, s).run(opts)).rejects.toThrow('kafka down');
    expect(s.load()!.kinds.contacts).toMatchObject({ cursor: '10', pages: 1 });
  });

  it('pages the kind again from the start when the saved cursor is rejected', async () => {
    const s = store();
    const stop = new AbortController();
    await new BackfillRunner(fakeSearch(25), memorySink(), s).run({
      ...opts,
      stop: stop.signal,
      onPage: () => stop.abort(),
    });
    const search = fakeSearch(25, { rejectCursorOnce: true });
    const sink = memorySink();
    const r = await new BackfillRunner(search, sink, s).run(opts);
    expect(r.outcome).toBe('completed');
    expect(search.calls).toEqual(['10', null, '10', '20']);
    expect(sink.written).toHaveLength(25);
  });

  it('--restart ignores the checkpoint', async () => {
    const s = store();
    await new BackfillRunner(fakeSearch(15), memorySink(), s).run(opts);
    const sink = memorySink();
    expect(await new BackfillRunner(fakeSearch(15), sink, s).run({ ...opts, restart: true })).toMatchObject({
      outcome: 'completed',
      objects: 15,
      resumed: false,
    });
    expect(sink.written).toHaveLength(15);
  });
});

describe('BackfillProgress', () => {
  const event = {
    kind: 'contacts' as const,
    page: 3,
    kindObjects: 30,
    totalCount: 100,
    pageObjects: 10,
    pageRecords: 10,
    runObjects: 30,
  };

  it('prints a plain line per page when not on a TTY', () => {
    const out: string[] = [];
    new BackfillProgress({ write: (s: string) => out.push(s) }).page(event);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^backfill contacts page 3: 10 objects, 10 records, 30\/100 read, [\d.]+\/s(, ETA \S+)?\n$/);
  });

  it('rewrites one line on a TTY, with the ETA from total_count', () => {
    const out: string[] = [];
    const p = new BackfillProgress({ isTTY: true, write: (s: string) => out.push(s) });
    p.page(event);
    p.finish();
    // eslint-disable-next-line no-control-regex -- the TTY line starts with the ESC[2K erase sequence
    expect(out[0]).toMatch(/^\r\x1b\[2Kcontacts: 30\/100 read, [\d.]+\/s/);
    expect(out.at(-1)).toBe('\n');
  });
});
