import type { Secret } from '@iks/config';
import type { Connection, ConnectionDirectory } from './connection.types';
import { ANY_WORKSPACE } from './default-connection';

/** A fixed set of connections (tests, and a deployment with only the default connection). */
export class StaticConnections implements ConnectionDirectory {
  readonly #byId = new Map<string, Connection>();
  readonly #listeners = new Set<(c: Connection, p: Connection | undefined) => void>();

  constructor(connections: readonly Connection[] = []) {
    for (const c of connections) this.#byId.set(c.id, c);
  }

  get(id: string): Connection | undefined {
    return this.#byId.get(id);
  }

  /** The connection claiming `appId`; else the one claiming ANY_WORKSPACE (the default connection without INTERCOM_APP_ID). */
  byAppId(appId: string): Connection | undefined {
    let any: Connection | undefined;
    for (const c of this.#byId.values()) {
      if (c.status === 'removed') continue;
      if (c.intercom.appId === appId) return c;
      if (c.intercom.appId === ANY_WORKSPACE) any = c;
    }
    return any;
  }

  all(): readonly Connection[] {
    return [...this.#byId.values()].filter((c) => c.status !== 'removed');
  }

  clientSecrets(): readonly Secret[] {
    const seen = new Map<string, Secret>();
    for (const c of this.all()) {
      const s = c.intercom.clientSecret;
      if (s && !seen.has(s.reveal())) seen.set(s.reveal(), s);
    }
    return [...seen.values()];
  }

  /** Replace or add one connection and tell the listeners (what the Kafka-following directory does per record). */
  put(connection: Connection): void {
    const previous = this.#byId.get(connection.id);
    this.#byId.set(connection.id, connection);
    for (const l of this.#listeners) l(connection, previous);
  }

  onChange(listener: (current: Connection, previous: Connection | undefined) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
