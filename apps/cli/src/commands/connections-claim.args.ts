import type { Command } from 'commander';
import { CONNECTION_ID_PATTERN } from '@iks/domain';
import { cliCommand, parseWith, type Parsed } from './command-args';

export const CONNECTIONS_CLAIM_USAGE = 'connections claim <connection-id> [--from-beginning] [--yes]';

export interface ConnectionsClaimArgs {
  readonly connectionId: string;
  readonly fromBeginning: boolean;
  readonly yes: boolean;
}

/** `connections claim <connection-id>`. */
export function connectionsClaimSubcommand(): Command {
  return cliCommand('claim')
    .description(
      'copy the signed webhooks ingest kept in intercom.notifications.unclaimed.v1 for the workspace of <connection-id> ' +
        '(its app_id) into intercom.notifications.v1 as that connection, so that they are mapped and delivered; ' +
        'progress is kept, so a second claim copies only what arrived since (copies are harmless: same unique_ids)',
    )
    .usage('<connection-id> [--from-beginning] [--yes]')
    .argument('<connection-id>', 'the connection whose workspace to claim')
    .option('--from-beginning', 'consider every kept webhook again, not only those since the last claim')
    .option('-y, --yes', 'proceed without asking (required without a terminal)');
}

/** The declaration of `connections <sub>`; main.ts adds it to the program. */
export function connectionsCommand(): Command {
  const cmd = cliCommand('connections').description('the connections (Intercom workspace → Klaviyo account)');
  cmd.addCommand(connectionsClaimSubcommand());
  return cmd;
}

export function connectionsClaimArgsFrom(
  id: string,
  o: { fromBeginning?: boolean; yes?: boolean },
): Parsed<ConnectionsClaimArgs> {
  if (!CONNECTION_ID_PATTERN.test(id)) {
    return {
      ok: false,
      error: `"${id.slice(0, 80)}" is not a connection id (lower-case letters, digits and dashes, 1-63 characters, starting with a letter or digit)`,
    };
  }
  return { ok: true, value: { connectionId: id, fromBeginning: o.fromBeginning === true, yes: o.yes === true } };
}

/** `claim <connection-id> [flags]` (without `connections`). */
export function parseConnectionsClaimArgs(args: readonly string[]): Parsed<ConnectionsClaimArgs> {
  const parsed = parseWith(connectionsClaimSubcommand(), args);
  if (!parsed.ok) return parsed;
  return connectionsClaimArgsFrom(parsed.value.args[0], parsed.value.opts);
}
