import { loadConfig } from '@iks/config';
import { runWorker } from '@iks/ops';
import { SinkRunner } from '@iks/sink';

runWorker('sink', () => {
  const config = loadConfig(process.env, 'sink');
  const runner = new SinkRunner(config);
  return { worker: { isReady: () => runner.isReady, metricsText: () => runner.metricsText(), start: () => runner.start(), stop: () => runner.stop() }, httpPort: config.sink.httpPort, logLevel: config.logLevel };
});
