import type { LogLevel } from '@nestjs/common';
import type { Params } from 'nestjs-pino';

const PINO_LEVEL: Record<LogLevel, string> = {
  fatal: 'fatal',
  error: 'error',
  warn: 'warn',
  log: 'info',
  debug: 'debug',
  verbose: 'trace',
};

/** Paths pino blanks out, whatever logs them: signatures, auth headers, keys, passwords, tokens. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-hub-signature"]',
  'req.headers.cookie',
  '*.apiKey',
  '*.api_key',
  '*.password',
  '*.token',
  '*.accessToken',
  '*.clientSecret',
  '*.secret',
];

export type LogFormat = 'json' | 'pretty';

/** Nest's own start-up lines (a line per module and per route): printed from LOG_LEVEL=debug on. */
export const NEST_BOOT_CONTEXTS: ReadonlySet<string> = new Set([
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestFactory',
]);

/** True for a Nest start-up line at info level that is left out below LOG_LEVEL=debug. */
export function isNestBootLine(firstArg: unknown, pinoLevel: number): boolean {
  return (
    pinoLevel <= 30 &&
    typeof firstArg === 'object' &&
    firstArg !== null &&
    NEST_BOOT_CONTEXTS.has(String((firstArg as { context?: unknown }).context))
  );
}

/**
 * nestjs-pino for every app: JSON lines in production, readable lines on a terminal
 * (LOG_FORMAT, default pretty on a TTY), secrets redacted, no per-request log lines (the
 * webhook path is hot; outcomes are counted in /metrics instead).
 */
export function loggerParams(
  app: string,
  level: LogLevel,
  format: LogFormat = process.stdout.isTTY ? 'pretty' : 'json',
): Params {
  return {
    pinoHttp: {
      name: app,
      level: PINO_LEVEL[level] ?? 'info',
      autoLogging: false,
      quietReqLogger: true,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      ...(level === 'debug' || level === 'verbose'
        ? {}
        : {
            hooks: {
              logMethod(args, method, pinoLevel) {
                if (isNestBootLine(args[0], pinoLevel)) return;
                return method.apply(this, args);
              },
            },
          }),
      transport:
        format === 'pretty'
          ? {
              target: 'pino-pretty',
              options: {
                colorize: process.stdout.isTTY,
                singleLine: true,
                translateTime: 'SYS:HH:MM:ss.l',
                ignore: 'pid,hostname,name',
              },
            }
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
