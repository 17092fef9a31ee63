import { EnvReader } from '../../support/env-reader';
import { startKlaviyoEmulator } from './klaviyo-emulator.server';

/**
 * Runs the Klaviyo emulator as its own process (local demo, manual testing).
 * KLAVIYO_EMULATOR_PORT (default 8090), KLAVIYO_EMULATOR_HOST (default 127.0.0.1),
 * KLAVIYO_EMULATOR_LIMITS=off to disable Klaviyo's rate limits,
 * KLAVIYO_EMULATOR_ASYNC_JOBS_MS=<ms> to apply bulk jobs after a delay.
 */
async function main(): Promise<void> {
  const env = new EnvReader();
  const asyncMs = env.int('KLAVIYO_EMULATOR_ASYNC_JOBS_MS', 0);
  const options = {
    port: env.int('KLAVIYO_EMULATOR_PORT', 8090),
    host: env.string('KLAVIYO_EMULATOR_HOST', '127.0.0.1'),
    limits: env.onOff('KLAVIYO_EMULATOR_LIMITS', true),
    asyncJobs: asyncMs > 0 ? { delayMs: asyncMs } : false,
  };
  env.done();
  const emulator = await startKlaviyoEmulator(options);
  process.stdout.write(`Klaviyo emulator listening on ${emulator.url} (rate limits ${emulator.limitsEnabled ? 'on' : 'off'})\n`);
  const stop = () => void emulator.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`Klaviyo emulator failed to start: ${String(err)}\n`);
  process.exit(1);
});
