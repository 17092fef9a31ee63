import { isBackfill, RECONCILE_BACKFILL_AFTER_MS } from './notification-processor';

describe('isBackfill', () => {
  const t = 1_764_000_000;
  it('backfill always, webhook never, reconcile by the age of what it heals', () => {
    expect(isBackfill({ source: 'backfill', created_at: t, received_at: t * 1000 })).toBe(true);
    expect(
      isBackfill({ source: 'webhook', created_at: t, received_at: t * 1000 + 10 * RECONCILE_BACKFILL_AFTER_MS }),
    ).toBe(false);
    expect(
      isBackfill({ source: 'reconcile', created_at: t, received_at: t * 1000 + RECONCILE_BACKFILL_AFTER_MS }),
    ).toBe(false);
    expect(
      isBackfill({ source: 'reconcile', created_at: t, received_at: t * 1000 + RECONCILE_BACKFILL_AFTER_MS + 1 }),
    ).toBe(true);
    expect(isBackfill({ source: 'reconcile', created_at: t, received_at: t * 1000 + 61_000 }, 60_000)).toBe(true);
  });
});
