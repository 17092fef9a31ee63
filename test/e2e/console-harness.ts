import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { chromium, type Browser } from 'playwright-core';
import { createConsoleApp } from '../../apps/console/src/console.app';
import { ConsoleService } from '../../apps/console/src/console.service';
import type { Pipeline } from './pipeline-harness';

/** The console app over a Pipeline's topics, on a free loopback port, and the browser that reads its pages. */
export interface ConsoleUnderTest {
  readonly app: NestFastifyApplication;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** The console's state (read models, feed, throttling scraper), for waits and scrapes. */
  readonly service: ConsoleService;
  /** Debian's chromium (/usr/bin/chromium), headless, driven by playwright-core. */
  readonly browser: Browser;
  /** Closes the browser, then the console. */
  close(): Promise<void>;
}

/** The console as `npm start` runs it (createConsoleApp, without its logs), with `env` on top of the pipeline's. */
export async function startConsole(pipeline: Pipeline, env: Record<string, string>): Promise<ConsoleUnderTest> {
  const app = await createConsoleApp(pipeline.config('cli', env), false);
  let browser: Browser | undefined;
  try {
    await app.listen(0, '127.0.0.1');
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  } catch (e) {
    await app.close().catch(() => undefined);
    throw e;
  }
  const opened = browser;
  return {
    app,
    url: `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`,
    service: app.get(ConsoleService),
    browser: opened,
    close: async () => {
      await opened.close().catch(() => undefined);
      await app.close().catch(() => undefined);
    },
  };
}
