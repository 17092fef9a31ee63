import { Logger } from '@nestjs/common';
import { ConfigError, loadConfig } from '@iks/config';
import { createConsoleApp } from './console.app';

async function bootstrap(): Promise<void> {
  const config = loadConfig(process.env, 'console');
  const app = await createConsoleApp(config);
  await app.listen(config.console.port, config.console.host);
  const c = config.console;
  new Logger('console').log(
    `ready: http://${c.host}:${c.port}/metrics (${c.token ? 'CONSOLE_TOKEN required' : 'loopback, no token'}; actions ${c.operatorToken ? 'on (operator token)' : 'off'}); ` +
      `health on /health/live and /health/ready, Prometheus on /ops/metrics`,
  );
  const o = config.consoleOAuth;
  const base = (o.publicUrl ?? '').replace(/\/+$/, '');
  if (o.klaviyo)
    new Logger('console').log(`Connect Klaviyo on: register the redirect URL ${base}/oauth/klaviyo/callback`);
  if (o.intercom)
    new Logger('console').log(`Connect Intercom on: register the redirect URL ${base}/oauth/intercom/callback`);
}

bootstrap().catch((e) => {
  if (e instanceof ConfigError) process.stderr.write(`console: ${e.message}\n`);
  else process.stderr.write(`console: failed to start: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
