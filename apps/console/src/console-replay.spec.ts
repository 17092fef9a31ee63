import { loadConfig } from '@iks/config';
import { ConsoleReplay, ReplayRequestError } from './console-replay';
import type { SharedAdmin } from '@iks/console';

/** Requests refused before the broker is asked anything. */
describe('ConsoleReplay: bad requests get a clear error', () => {
  const noBroker = {
    use: async () => {
      throw new Error('the broker must not be asked');
    },
  } as unknown as SharedAdmin;
  const replay = (env: Record<string, string> = {}) =>
    new ConsoleReplay({} as never, noBroker, loadConfig({ TOPIC_PREFIX: 'p.', ...env }, 'console'));
  const refusal = (p: Promise<unknown>) =>
    p.then(
      () => null,
      (e: ReplayRequestError) => [e.status, e.message],
    );

  it('names the replayable topics', async () => {
    expect(await refusal(replay().plan({ topic: 'klaviyo.outcomes.v1' }))).toEqual([
      400,
      'topic must be one of p.intercom.notifications.v1, p.klaviyo.events.v1, p.klaviyo.profiles.v1, p.klaviyo.deletions.v1',
    ]);
  });

  it('needs KLAVIYO_API_KEY to re-deliver, not to re-map', async () => {
    expect(await refusal(replay().plan({ topic: 'p.klaviyo.events.v1' }))).toEqual([
      422,
      expect.stringContaining('KLAVIYO_API_KEY is not set'),
    ]);
    expect(await refusal(replay().plan({ topic: 'p.intercom.notifications.v1', fromTime: 'yesterday' }))).toEqual([
      400,
      'fromTime "yesterday" is not an ISO 8601 date',
    ]);
  });

  it('refuses an end before the start, and a plan it never made', async () => {
    const r = replay({ KLAVIYO_API_KEY: 'pk_test_0123456789abcdef' });
    expect(
      await refusal(
        r.plan({ topic: 'p.klaviyo.events.v1', fromTime: '2026-01-02T00:00:00Z', toTime: '2026-01-01T00:00:00Z' }),
      ),
    ).toEqual([400, 'toTime must be after fromTime']);
    expect(await refusal(r.start('0123456789abcdef'))).toEqual([404, expect.stringContaining('no such plan')]);
  });
});
