import { loadConfig } from '@iks/config';
import { NO_INTERCOM_API } from '@iks/directory';
import { StageHandlers } from '@iks/stage';
import { TransformerRunner } from './transformer.runner';
import { transformerContext } from './transformer-stage.module';

describe('TransformerStageModule (the wiring the app, the CLI replay, the tests and the benches share)', () => {
  it('gives every topic the transformer consumes exactly one handler, without connecting to anything', async () => {
    const config = loadConfig({ TOPIC_PREFIX: 'x.', LOG_LEVEL: 'error' }, 'transformer');
    const app = await transformerContext(config, { intercomSource: NO_INTERCOM_API });
    try {
      const runner = app.get(TransformerRunner);
      const lookup = app.get(StageHandlers).lookup();
      const topics = runner.specs().flatMap((s) => s.topics.map((t) => t.topic));
      expect(topics.map((t) => t.name)).toEqual(['x.intercom.notifications.v1', 'x.intercom.notifications.v1.retry']);
      for (const t of topics) expect(lookup(t.key)).toBeDefined();
      // a replay's run: its own group, no retry consumer
      const replay = await transformerContext(config, {
        intercomSource: NO_INTERCOM_API,
        run: { groupId: 'x.replay', retryConsumer: false },
      });
      expect(
        replay
          .get(TransformerRunner)
          .specs()
          .map((s) => s.groupId),
      ).toEqual(['x.replay']);
      await replay.close();
    } finally {
      await app.close();
    }
  });
});
