import { readFileSync } from 'node:fs';
import { EnvReader } from '../../support/env-reader';
import type { AccountOptions } from './accounts/emulated-account';
import { startKlaviyoEmulator } from './klaviyo-emulator.server';
import type { OAuthAppOptions } from './oauth/oauth-apps';

/** The optional KLAVIYO_EMULATOR_CONFIG file: `{ "accounts": [AccountOptions], "oauthApps": [OAuthAppOptions] }`. */
interface EmulatorConfigFile {
  readonly accounts?: readonly AccountOptions[];
  readonly oauthApps?: readonly OAuthAppOptions[];
}

function readConfigFile(path: string | undefined): EmulatorConfigFile {
  if (!path) return {};
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as EmulatorConfigFile;
  if (typeof parsed !== 'object' || parsed === null)
    throw new Error(`KLAVIYO_EMULATOR_CONFIG ${path}: expected a JSON object`);
  return parsed;
}

/**
 * Runs the Klaviyo emulator as its own process (local demo, manual testing).
 * KLAVIYO_EMULATOR_PORT (default 8090), KLAVIYO_EMULATOR_HOST (default 127.0.0.1),
 * KLAVIYO_EMULATOR_LIMITS=off to disable Klaviyo's rate limits,
 * KLAVIYO_EMULATOR_ASYNC_JOBS_MS=<ms> to apply bulk jobs after a delay,
 * KLAVIYO_EMULATOR_CONFIG=<file.json> for more accounts and OAuth apps,
 * KLAVIYO_EMULATOR_ACCESS_TOKEN_TTL_S=<s> for the OAuth access-token lifetime (default 3600).
 */
async function main(): Promise<void> {
  const env = new EnvReader();
  const asyncMs = env.int('KLAVIYO_EMULATOR_ASYNC_JOBS_MS', 0);
  const ttlSeconds = env.int('KLAVIYO_EMULATOR_ACCESS_TOKEN_TTL_S', 3600, 1);
  const configPath = env.string('KLAVIYO_EMULATOR_CONFIG');
  const options = {
    port: env.int('KLAVIYO_EMULATOR_PORT', 8090),
    host: env.string('KLAVIYO_EMULATOR_HOST', '127.0.0.1'),
    limits: env.onOff('KLAVIYO_EMULATOR_LIMITS', true),
    asyncJobs: asyncMs > 0 ? { delayMs: asyncMs } : false,
    oauth: { accessTokenTtlMs: ttlSeconds * 1000 },
  };
  env.done();
  const file = readConfigFile(configPath);
  const emulator = await startKlaviyoEmulator({ ...options, accounts: file.accounts, oauthApps: file.oauthApps });
  const extra = emulator.accounts.list().length - 1;
  process.stdout.write(
    `Klaviyo emulator listening on ${emulator.url} (rate limits ${emulator.limitsEnabled ? 'on' : 'off'}` +
      `${extra > 0 ? `, ${extra} more account${extra === 1 ? '' : 's'}` : ''}${file.oauthApps?.length ? `, ${file.oauthApps.length} OAuth app(s)` : ''})\n`,
  );
  const stop = () => void emulator.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`Klaviyo emulator failed to start: ${String(err)}\n`);
  process.exit(1);
});
