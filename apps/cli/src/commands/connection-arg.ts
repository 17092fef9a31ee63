import type { Config } from '@iks/config';
import {
  CONNECTIONS,
  ConnectionsModule,
  DEFAULT_CONNECTION_ID,
  defaultConnectionFromConfig,
  type Connection,
  type ConnectionDirectory,
  type KafkaConnectionDirectory,
} from '@iks/connections';
import { createContext } from '@iks/ops';
import type { CliIo } from '../cli-io';
import { EXIT } from './command-args';
import { printable } from './printable';

/** Where a command's connection is looked up: the connections directory (default: pipeline.connections.v1 read in a CLI context). */
export interface ConnectionLookup {
  /** Replaces the Kafka-following directory (tests). */
  readonly connections?: ConnectionDirectory;
}

export type ResolvedConnection =
  { readonly ok: true; readonly connection: Connection } | { readonly ok: false; readonly code: number };

/**
 * The connection `--connection <id>` names, ready to read its workspace (backfill, reconcile):
 * not removed, not paused, with an Intercom access token. `default` (and no --connection) is the
 * environment's connection, read without Kafka. Anything else is looked up in the connections
 * directory; what cannot be used is said on stderr and answered with exit 2.
 */
export async function intercomConnection(
  command: string,
  id: string | null,
  config: Config,
  io: CliIo,
  lookup: ConnectionLookup = {},
): Promise<ResolvedConnection> {
  const refuse = (why: string): ResolvedConnection => {
    io.stderr(`${command}: ${why}`);
    return { ok: false, code: EXIT.usage };
  };
  if (id === null || id === DEFAULT_CONNECTION_ID) {
    if (id !== null && !config.connections.defaultConnection)
      return refuse(
        'connection "default" is turned off (CONNECTIONS_DEFAULT=off); name an added connection (cli connections list)',
      );
    return { ok: true, connection: defaultConnectionFromConfig(config) };
  }
  const found = await lookUp(id, config, lookup);
  const c = found.connection;
  if (!c) {
    if (found.unusable !== undefined)
      return refuse(`connection "${id}" cannot be read: ${printable(found.unusable)} (cli connections list)`);
    const known = found.known.length > 0 ? found.known.join(', ') : 'none';
    return refuse(
      `unknown connection "${id}" (known: ${known})${found.following ? '' : '; CONNECTION_SECRET_KEYS is not set, so pipeline.connections.v1 was not read'}`,
    );
  }
  if (c.status === 'removed') return refuse(`connection "${id}" is removed: its workspace is not read any more`);
  if (c.status === 'paused' || c.status === 'needs_reauth')
    return refuse(
      `connection "${id}" is ${c.status === 'paused' ? 'paused' : 'waiting for a new authorisation (needs_reauth)'}: ` +
        `resume it first (cli connections resume ${id})`,
    );
  if (!c.intercom.accessToken)
    return refuse(
      `connection "${id}" has no Intercom access token (its workspace's REST API cannot be read; add the connection again with --intercom-access-token)`,
    );
  return { ok: true, connection: c };
}

interface Found {
  readonly connection: Connection | undefined;
  readonly known: readonly string[];
  readonly following: boolean;
  readonly unusable?: string;
}

async function lookUp(id: string, config: Config, lookup: ConnectionLookup): Promise<Found> {
  const read = (d: ConnectionDirectory, following: boolean, unusable?: string): Found => ({
    connection: d.get(id),
    known: d
      .all()
      .map((c) => c.id)
      .sort(),
    following,
    unusable,
  });
  if (lookup.connections) return read(lookup.connections, true);
  const app = await createContext(config, 'cli', ConnectionsModule);
  try {
    const d = app.get<KafkaConnectionDirectory>(CONNECTIONS);
    return read(d, d.following, d.unusable().find((u) => u.id === id)?.reason);
  } finally {
    await app.close();
  }
}

/** A known connection id (not necessarily active) for the filters of replay and dlq: unknown → exit 2. */
export async function knownConnection(
  command: string,
  id: string,
  config: Config,
  io: CliIo,
  lookup: ConnectionLookup = {},
): Promise<ResolvedConnection> {
  if (id === DEFAULT_CONNECTION_ID) return { ok: true, connection: defaultConnectionFromConfig(config) };
  const found = await lookUp(id, config, lookup);
  if (found.connection) return { ok: true, connection: found.connection }; // removed ones too: their records stay replayable
  if (found.unusable !== undefined) {
    io.stderr(`${command}: connection "${id}" cannot be read: ${printable(found.unusable)} (cli connections list)`);
    return { ok: false, code: EXIT.usage };
  }
  io.stderr(
    `${command}: unknown connection "${id}" (known: ${found.known.join(', ') || 'none'})${found.following ? '' : '; CONNECTION_SECRET_KEYS is not set, so pipeline.connections.v1 was not read'}`,
  );
  return { ok: false, code: EXIT.usage };
}
