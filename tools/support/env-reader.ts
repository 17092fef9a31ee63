/**
 * Reads the knobs of a script (emulator, demo, bench) from the environment, collecting every bad
 * value so that `done()` names them all at once (as libs/config does for the apps).
 */
export class EnvReader {
  private readonly errors: string[] = [];

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  /** An integer ≥ `min` (default 0); `fallback` when unset or empty. */
  int(name: string, fallback: number, min = 0): number {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) {
      this.errors.push(`${name} must be an integer ≥ ${min}, got "${raw}"`);
      return fallback;
    }
    return n;
  }

  string(name: string, fallback: string): string;
  string(name: string): string | undefined;
  string(name: string, fallback?: string): string | undefined {
    const raw = this.env[name];
    return raw === undefined || raw === '' ? fallback : raw;
  }

  /** `on` / `off` (also true/false, 1/0), case-insensitive. */
  onOff(name: string, fallback: boolean): boolean {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    const v = raw.toLowerCase();
    if (['on', 'true', '1'].includes(v)) return true;
    if (['off', 'false', '0'].includes(v)) return false;
    this.errors.push(`${name} must be on or off, got "${raw}"`);
    return fallback;
  }

  /** Throws one error naming every bad variable read so far. */
  done(): void {
    if (this.errors.length > 0) throw new Error(`invalid configuration:\n  ${this.errors.join('\n  ')}`);
  }
}
