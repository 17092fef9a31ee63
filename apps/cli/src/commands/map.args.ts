import { Command, Option } from 'commander';
import { cliCommand, parseWith, value, type Parsed } from './command-args';

export const MAP_USAGE =
  '<notification.json> [--contacts contacts.json] [--admins admins.json] [--teams teams.json] [--tags tags.json] [--subscriptions subs.json] [--deleted id,id] [--backfill] [--phone-region CC] [--delete-on-archive]';

export const FILE_OPTIONS = ['contacts', 'admins', 'teams', 'tags', 'subscriptions'] as const;
export type FileOption = (typeof FILE_OPTIONS)[number];

const FILE_HELP: Record<FileOption, string> = {
  contacts: 'contacts, a JSON array or an Intercom list (GET /contacts)',
  admins: 'admins, a JSON array or {admins:[...]} (GET /admins)',
  teams: 'teams, a JSON array or {teams:[...]} (GET /teams)',
  tags: 'tags, a JSON array or an Intercom list (GET /tags)',
  subscriptions: 'an object from contact id to its subscription list (GET /contacts/{id}/subscriptions)',
};

export interface MapArgs {
  readonly notification: string;
  readonly files: Readonly<Partial<Record<FileOption, string>>>;
  readonly deleted: readonly string[];
  readonly backfill: boolean;
  readonly deleteOnArchive: boolean;
  readonly phoneRegion: string | null;
}

/** The declaration of `map` (options, help); main.ts adds it to the program, parseMapArgs parses with it. */
export function mapCommand(): Command {
  const cmd = cliCommand('map')
    .description(
      'print the Klaviyo records one Intercom notification maps to (one JSON line each), with the code the transformer runs; offline, the directory from files',
    )
    .usage(MAP_USAGE)
    .argument(
      '<notification.json>',
      'the notification as Intercom posts it (examples in libs/mapping/fixtures/notifications)',
    );
  for (const f of FILE_OPTIONS) cmd.addOption(new Option(`--${f} <file>`, FILE_HELP[f]).argParser(value(`--${f}`)));
  return cmd
    .addOption(
      new Option('--deleted <ids>', 'comma-separated contact ids deleted earlier (tombstoned)').argParser(
        value('--deleted'),
      ),
    )
    .option('--backfill', 'map as a backfilled notification (source = backfill)')
    .addOption(
      new Option(
        '--phone-region <CC>',
        'ISO country for phones without +country code (DEFAULT_PHONE_REGION)',
      ).argParser(value('--phone-region')),
    )
    .option('--delete-on-archive', 'contact.archived also deletes the profile (DELETE_ON_ARCHIVE)');
}

export function parseMapArgs(args: readonly string[]): Parsed<MapArgs> {
  const parsed = parseWith(mapCommand(), args);
  return parsed.ok ? { ok: true, value: mapArgsFrom(parsed.value.args[0], parsed.value.opts) } : parsed;
}

export function mapArgsFrom(notification: string, o: Record<string, unknown>): MapArgs {
  const files: Partial<Record<FileOption, string>> = {};
  for (const f of FILE_OPTIONS) if (typeof o[f] === 'string') files[f] = o[f] as string;
  return {
    notification,
    files,
    deleted:
      typeof o.deleted === 'string'
        ? o.deleted
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : [],
    backfill: o.backfill === true,
    deleteOnArchive: o.deleteOnArchive === true,
    phoneRegion: typeof o.phoneRegion === 'string' ? o.phoneRegion : null,
  };
}
