import { Writable } from 'node:stream';
import pino from 'pino';
import { loggerParams } from './logging';

/** The pino options every app's logger is built from, writing JSON lines into an array. */
function capture(level: 'log' | 'debug'): { logger: pino.Logger; lines: () => Array<Record<string, unknown>> } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      out.push(String(chunk));
      done();
    },
  });
  const opts = loggerParams('test', level, 'json').pinoHttp as pino.LoggerOptions;
  return {
    logger: pino({ ...opts, level: level === 'debug' ? 'debug' : 'info' }, stream),
    lines: () => out.map((l) => JSON.parse(l)),
  };
}

describe('loggerParams', () => {
  it("leaves out Nest's per-module and per-route start-up lines below LOG_LEVEL=debug, and keeps the apps' own", () => {
    const { logger, lines } = capture('log');
    logger.info({ context: 'InstanceLoader' }, 'KafkaModule dependencies initialized');
    logger.info({ context: 'RouterExplorer' }, 'Mapped {/health/live, GET} route');
    logger.info({ context: 'NestFactory' }, 'Starting Nest application...');
    logger.info({ context: 'SinkRunner' }, 'delivering events');
    logger.warn({ context: 'InstanceLoader' }, 'a warning is never left out');
    expect(lines().map((l) => l.msg)).toEqual(['delivering events', 'a warning is never left out']);
  });

  it('prints them with LOG_LEVEL=debug', () => {
    const { logger, lines } = capture('debug');
    logger.info({ context: 'InstanceLoader' }, 'KafkaModule dependencies initialized');
    expect(lines().map((l) => l.msg)).toEqual(['KafkaModule dependencies initialized']);
  });

  it('redacts secrets', () => {
    const { logger, lines } = capture('log');
    logger.info({ context: 'x', cfg: { apiKey: 'pk_secret', token: 't0k' } }, 'config');
    expect(JSON.stringify(lines())).not.toMatch(/pk_secret|t0k/);
  });
});
