import { InvalidArgumentError, Option } from 'commander';
import { CONNECTION_ID_PATTERN } from '@iks/domain';

/** `--connection <id>`: which connection a command works for (docs/CONNECTIONS.md); checked as an id here, looked up when the command runs. */
export function connectionOption(what: string): Option {
  return new Option('--connection <id>', what).argParser((v: string, previous: unknown) => {
    if (v === '' || v.startsWith('--')) throw new InvalidArgumentError('--connection needs a value');
    if (previous !== undefined) throw new InvalidArgumentError('--connection given twice');
    if (!CONNECTION_ID_PATTERN.test(v))
      throw new InvalidArgumentError(
        `--connection "${v.slice(0, 70)}" is not a connection id (1-63 lower-case letters, digits or dashes; "default" is the environment's)`,
      );
    return v;
  });
}
