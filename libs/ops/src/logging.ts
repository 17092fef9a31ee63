import type { LogLevel } from '@nestjs/common';
import type { Params } from 'nestjs-pino';

const PINO_LEVEL: Record<LogLevel, string> = { fatal: 'fatal', error: 'error', warn: 'warn', log: 'info', debug: 'debug', verbose: 'trace' };

/** Paths pino blanks out, whatever logs them: signatures, auth headers, keys, passwords, tokens. */
export const REDACTED_PATHS = [
  'req.headers.authorization', 'req.headers["x-hub-signature"]', 'req.headers.cookie',
  '*.apiKey', '*.api_key', '*.password', '*.token', '*.accessToken', '*.clientSecret', '*.secret',
];

export type LogFormat = 'json' | 'pretty';

/**
 * nestjs-pino for every app: JSON lines in production, readable lines on a terminal
 * (LOG_FORMAT, default pretty on a TTY), secrets redacted, no per-request log lines (the
 * webhook path is hot; outcomes are counted in /metrics instead).
 */
export function loggerParams(app: string, level: LogLevel, format: LogFormat = process.stdout.isTTY ? 'pretty' : 'json'): Params {
  return {
    pinoHttp: {
      name: app,
      level: PINO_LEVEL[level] ?? 'info',
      autoLogging: false,
      quietReqLogger: true,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      transport: format === 'pretty'
        ? { target: 'pino-pretty', options: { colorize: process.stdout.isTTY, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name' } }
        : undefined,
    },
    // no request-scoped middleware at all: nothing per webhook
    forRoutes: [],
  };
}

const ORDER: LogLevel[] = ['error', 'warn', 'log', 'debug', 'verbose'];

/** LOG_LEVEL (error | warn | log | debug | verbose) → the Nest levels to print. */
export function logLevels(level: LogLevel): LogLevel[] {
  return ORDER.slice(0, ORDER.indexOf(level) + 1);
}
