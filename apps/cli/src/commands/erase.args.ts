import { Command, Option } from 'commander';
import { CONNECTION_ID_PATTERN, DEFAULT_CONNECTION_ID } from '@iks/domain';
import { cliCommand, parseWith, value, type Parsed } from './command-args';

export const ERASE_USAGE = '(--contact-id <id> | --email <email> | --phone <phone>) [--connection <id>] [--yes]';

export interface EraseArgs {
  readonly connectionId: string;
  /** Exactly one of the three. */
  readonly contactId: string | null;
  readonly email: string | null;
  readonly phone: string | null;
  readonly yes: boolean;
}

/** The declaration of `erase`; main.ts adds it to the program. */
export function eraseCommand(): Command {
  return cliCommand('erase')
    .description(
      'erase a person on request (a deletion that did not come from Intercom): writes a contact.deleted of source ' +
        '"operator" into intercom.notifications.v1, which goes the way of Intercom\'s own: the transformer tombstones ' +
        'the contact in the directory and writes the deletion request, the sink asks Klaviyo to delete the profile and ' +
        'skips the person from then on (docs/ERASURE.md)',
    )
    .usage(ERASE_USAGE)
    .addOption(
      new Option('--contact-id <id>', 'the Intercom contact id (preferred: the directory knows her by it)').argParser(
        value('--contact-id'),
      ),
    )
    .addOption(new Option('--email <email>', 'her email, when the contact id is not known').argParser(value('--email')))
    .addOption(
      new Option('--phone <phone>', 'her phone number, when the contact id is not known').argParser(value('--phone')),
    )
    .addOption(
      new Option('--connection <id>', `the connection she belongs to (default: ${DEFAULT_CONNECTION_ID})`).argParser(
        value('--connection'),
      ),
    )
    .option('-y, --yes', 'proceed without asking (required without a terminal)');
}

export function eraseArgsFrom(o: {
  contactId?: string;
  email?: string;
  phone?: string;
  connection?: string;
  yes?: boolean;
}): Parsed<EraseArgs> {
  const given = [o.contactId, o.email, o.phone].filter((v) => v !== undefined);
  if (given.length !== 1)
    return { ok: false, error: 'give exactly one of --contact-id, --email and --phone (the person to erase)' };
  const connectionId = o.connection ?? DEFAULT_CONNECTION_ID;
  if (!CONNECTION_ID_PATTERN.test(connectionId))
    return { ok: false, error: `--connection "${connectionId.slice(0, 80)}" is not a connection id` };
  const email = o.email?.trim();
  if (email !== undefined && !/^[^\s@]+@[^\s@]+$/.test(email))
    return { ok: false, error: '--email is not an email address (name@domain)' };
  const phone = o.phone?.trim();
  if (phone !== undefined && !/^\+?[\d\s().-]{4,}$/.test(phone))
    return { ok: false, error: '--phone is not a phone number (digits, optionally +country code)' };
  const contactId = o.contactId?.trim();
  if (contactId !== undefined && contactId.length === 0) return { ok: false, error: '--contact-id needs a value' };
  return {
    ok: true,
    value: {
      connectionId,
      contactId: contactId ?? null,
      email: email ?? null,
      phone: phone ?? null,
      yes: o.yes === true,
    },
  };
}

export function parseEraseArgs(args: readonly string[]): Parsed<EraseArgs> {
  const parsed = parseWith(eraseCommand(), args);
  return parsed.ok ? eraseArgsFrom(parsed.value.opts) : parsed;
}
