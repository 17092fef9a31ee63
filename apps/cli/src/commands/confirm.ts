import { createInterface } from 'node:readline';
import type { CliIo } from '../cli-io';

/** How a command asks "Proceed? [y/N]"; replaced in tests. */
export interface Prompt {
  readonly isTTY: boolean;
  ask(question: string): Promise<string>;
}

export const processPrompt: Prompt = {
  get isTTY() {
    return Boolean(process.stdin.isTTY && process.stdout.isTTY);
  },
  ask: (question) =>
    new Promise((resolve) => {
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      rl.question(question, (answer) => {
        rl.close();
        resolve(answer);
      });
    }),
};

/**
 * The rule shared by commands that change what the pipeline reads or sends: --yes proceeds;
 * on a terminal the operator is asked; without a terminal and without --yes nothing happens
 * (exit 2), so that a script never changes offsets or resends records by accident.
 * Returns the exit code to stop with, or null to proceed.
 */
export async function confirmOrExit(
  command: string,
  yes: boolean,
  io: CliIo,
  prompt: Prompt = processPrompt,
): Promise<number | null> {
  if (yes) return null;
  if (!prompt.isTTY) {
    io.stderr(`${command}: not a terminal: pass --yes to proceed without confirmation`);
    return 2;
  }
  const answer = (await prompt.ask('Proceed? [y/N] ')).trim().toLowerCase();
  if (answer === 'y' || answer === 'yes') return null;
  io.stderr(`${command}: cancelled, nothing changed`);
  return 1;
}
