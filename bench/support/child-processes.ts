import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  /** The last 30 lines it printed (stdout and stderr). */
  readonly tail: string[];
  peakRss?: number;
}

export interface StartOptions {
  /** Flags before the script (e.g. V8 heap sizes). */
  readonly nodeFlags?: readonly string[];
  /** Print every line with a `[name]` prefix (default: only kept in `tail`). */
  readonly verbose?: boolean;
  /** Open an IPC channel to the child (proc.send), e.g. for bench/support/cpu-prof-preload. */
  readonly ipc?: boolean;
}

/** VmHWM (peak resident set) of a live process, in bytes, from /proc/<pid>/status. */
export function vmHwm(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Node scripts run as child processes of a benchmark: started with their own environment, their
 * output kept, an early exit reported with its last lines, and all stopped together (SIGTERM,
 * SIGKILL after 10 s), newest first.
 */
export class ChildProcesses {
  readonly children: Child[] = [];
  private stopping = false;

  start(name: string, script: string, env: NodeJS.ProcessEnv, options: StartOptions = {}): Child {
    const proc = spawn(process.execPath, [...(options.nodeFlags ?? []), script], {
      env,
      stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    });
    const child: Child = { name, proc, tail: [] };
    for (const s of [proc.stdout!, proc.stderr!]) {
      createInterface({ input: s }).on('line', (l) => {
        child.tail.push(l);
        if (child.tail.length > 30) child.tail.shift();
        if (options.verbose) process.stdout.write(`[${name}] ${l}\n`);
      });
    }
    proc.on('exit', (code, signal) => {
      if (!this.stopping)
        process.stderr.write(
          `bench: ${name} exited early (${signal ?? code}); last lines:\n${child.tail.join('\n')}\n`,
        );
    });
    this.children.push(child);
    return child;
  }

  /** Stops every child still running, reading each one's peak RSS first. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    for (const c of this.children) c.peakRss ??= vmHwm(c.proc.pid);
    const running = (c: Child) => c.proc.exitCode === null && c.proc.signalCode === null;
    for (const c of [...this.children].reverse()) if (running(c)) c.proc.kill('SIGTERM');
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((res) => {
            if (!running(c)) return res();
            const t = setTimeout(() => c.proc.kill('SIGKILL'), 10_000);
            c.proc.once('exit', () => {
              clearTimeout(t);
              res();
            });
          }),
      ),
    );
  }
}
