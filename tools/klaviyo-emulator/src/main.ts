import { startKlaviyoEmulator } from './klaviyo-emulator.server';

/**
 * Runs the Klaviyo emulator as its own process (local demo, manual testing).
 * KLAVIYO_EMULATOR_PORT (default 8090), KLAVIYO_EMULATOR_HOST (default 127.0.0.1),
 * KLAVIYO_EMULATOR_LIMITS=off to disable Klaviyo's rate limits,
 * KLAVIYO_EMULATOR_ASYNC_JOBS_MS=<ms> to apply bulk jobs after a delay.
 */
async function main(): Promise<void> {
  const asyncMs = process.env.KLAVIYO_EMULATOR_ASYNC_JOBS_MS;
  const emulator = await startKlaviyoEmulator({
    port: Number(process.env.KLAVIYO_EMULATOR_PORT ?? 8090),
    host: process.env.KLAVIYO_EMULATOR_HOST ?? '127.0.0.1',
    limits: (process.env.KLAVIYO_EMULATOR_LIMITS ?? 'on').toLowerCase() !== 'off',
    asyncJobs: asyncMs ? { delayMs: Number(asyncMs) } : false,
  });
  process.stdout.write(`Klaviyo emulator listening on ${emulator.url} (rate limits ${emulator.limitsEnabled ? 'on' : 'off'})\n`);
  const stop = () => void emulator.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`Klaviyo emulator failed to start: ${String(err)}\n`);
  process.exit(1);
});
