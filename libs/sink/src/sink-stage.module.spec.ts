import { loadConfig } from '@iks/config';
import { RateBudget } from '@iks/klaviyo';
import { StageHandlers } from '@iks/stage';
import { SinkRunner } from './sink.runner';
import { sinkContext } from './sink-stage.module';

describe('SinkStageModule (the wiring the app, the CLI, the tests and the benches share)', () => {
  const config = loadConfig({ TOPIC_PREFIX: 'x.', LOG_LEVEL: 'error', KLAVIYO_API_KEY: 'pk_test_wiring' }, 'sink');

  it('gives every topic the sink consumes exactly one handler (the parked one too), and builds its budget share once, not in specs()', async () => {
    const budget = new RateBudget();
    const app = await sinkContext(config, { budget });
    try {
      const runner = app.get(SinkRunner);
      const lookup = app.get(StageHandlers).lookup();
      const [spec] = runner.specs();
      expect(spec.topics.map((t) => t.topic.name)).toEqual([
        'x.klaviyo.events.v1',
        'x.klaviyo.profiles.v1',
        'x.klaviyo.deletions.v1',
        'x.klaviyo.parked.v1',
      ]);
      for (const t of spec.topics) expect(lookup(t.topic.key)).toBeDefined();
      const share = runner.budgetShare;
      runner.specs();
      expect(runner.budgetShare).toBe(share);
      expect(runner.deliverer.caller.budget).toBe(budget);
    } finally {
      await app.close();
    }
  });

  it('a replay run consumes only its topic in its own group', async () => {
    const app = await sinkContext(config, { run: { groupId: 'x.replay', topics: ['profiles'], mode: 'replay' } });
    try {
      const [spec] = app.get(SinkRunner).specs();
      expect(spec.groupId).toBe('x.replay');
      // a replay parks into klaviyo.parked.v1 but leaves the re-offering to the live sink
      expect(spec.topics.map((t) => t.topic.key)).toEqual(['profiles']);
    } finally {
      await app.close();
    }
  });

  it('does not boot without KLAVIYO_API_KEY', async () => {
    // the sink's own config refuses to load without it; a CLI config (dlq reprocess, replay) reaches the provider
    await expect(sinkContext(loadConfig({ TOPIC_PREFIX: 'x.', LOG_LEVEL: 'error' }, 'cli'))).rejects.toThrow(
      'KLAVIYO_API_KEY is required by the sink',
    );
  });
});
