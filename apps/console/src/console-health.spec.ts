import type { ReadModelFeed } from '@iks/console';
import { ConsoleHealth } from './console-health';

const feed = (o: Partial<Pick<ReadModelFeed, 'state' | 'lastError' | 'caughtUpAt'>> & { behind?: number | null }) =>
  ({
    state: 'running',
    lastError: null,
    caughtUpAt: null,
    ...o,
    behind: () => (o.behind === undefined ? 0 : o.behind),
  }) as unknown as ReadModelFeed;

describe('ConsoleHealth', () => {
  it('is ready once the feed runs and the read model has caught up, saying how far behind it is', () => {
    expect(new ConsoleHealth(feed({ caughtUpAt: 1, behind: 3 })).readiness()).toEqual({
      feed: { up: true, detail: { state: 'running' } },
      readModel: { up: true, detail: { caughtUp: true, behind: 3, caughtUpAt: new Date(1).toISOString() } },
    });
  });

  it('is not ready while the read model catches up, nor when the consumer is down', () => {
    expect(new ConsoleHealth(feed({ behind: 120 })).readiness().readModel).toEqual({
      up: false,
      detail: { caughtUp: false, behind: 120 },
    });
    const crashed = new ConsoleHealth(feed({ state: 'crashed', lastError: 'broker gone', caughtUpAt: 1 }));
    expect(crashed.readiness().feed).toEqual({ up: false, detail: { state: 'crashed', error: 'broker gone' } });
    expect(crashed.liveness().feed.up).toBe(false);
    expect(new ConsoleHealth(feed({ state: 'starting' })).liveness().feed.up).toBe(true);
  });
});
