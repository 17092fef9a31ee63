import { Logger } from '@nestjs/common';
import { loadConfig } from '@iks/config';
import { runWorker } from '@iks/ops';
import { intercomSourceFor } from '@iks/directory';
import { TransformerRunner } from '@iks/transformer';

runWorker('transformer', () => {
  const config = loadConfig(process.env, 'transformer');
  const source = intercomSourceFor(config);
  if (!source.enabled) {
    new Logger('transformer').warn('INTERCOM_ACCESS_TOKEN is not set: contacts are known from contact.* webhooks only (no GET /contacts/{id}, no admin/team names)');
  }
  const runner = new TransformerRunner(config, source);
  return { worker: { isReady: () => runner.isReady, metricsText: () => runner.metricsText(), start: () => runner.start(), stop: () => runner.stop() }, httpPort: config.transformer.httpPort, logLevel: config.logLevel };
});
