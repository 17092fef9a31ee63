import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BackfillKind } from './backfill.types';

export interface KindProgress {
  /** `pages.next.starting_after` of the last acknowledged page; null before the first. */
  cursor: string | null;
  done: boolean;
  pages: number;
  objects: number;
  records: number;
  totalCount: number | null;
}

export interface BackfillCheckpoint {
  readonly version: 1;
  readonly since: number;
  /** Fixed at the first run (now, when --until is absent), so a resumed run pages the same window. */
  readonly until: number;
  readonly topic: string;
  readonly baseUrl: string;
  kinds: Partial<Record<BackfillKind, KindProgress>>;
  savedAt: string;
}

export interface CheckpointIdentity {
  readonly since: number;
  /** As given; null when --until was absent. */
  readonly until: number | null;
  readonly topic: string;
  readonly baseUrl: string;
  /** The connection backfilled (`--connection`); absent or `default`: the default connection (its checkpoints keep their names). */
  readonly connectionId?: string;
}

/**
 * One JSON file per backfill window (since, until, target topic, Intercom host, connection). Written after
 * each page is acknowledged by Kafka, atomically (temp file + rename) so a crash mid-write
 * leaves the previous checkpoint.
 */
export class CheckpointStore {
  readonly path: string;

  constructor(
    readonly dir: string,
    readonly identity: CheckpointIdentity,
  ) {
    const parts: unknown[] = [identity.since, identity.until, identity.topic, identity.baseUrl];
    // two connections' workspaces on one host (the emulator, a proxy) never share a checkpoint
    if (identity.connectionId !== undefined && identity.connectionId !== 'default') parts.push(identity.connectionId);
    const hash = createHash('sha1').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
    this.path = join(dir, `backfill-${hash}.json`);
  }

  load(): BackfillCheckpoint | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    const parsed = JSON.parse(text) as BackfillCheckpoint;
    if (parsed.version !== 1)
      throw new Error(`checkpoint ${this.path} has version ${String(parsed.version)}; use --restart`);
    return parsed;
  }

  save(cp: BackfillCheckpoint): void {
    mkdirSync(this.dir, { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ ...cp, savedAt: new Date().toISOString() }, null, 2)}\n`);
    renameSync(tmp, this.path);
  }

  clear(): void {
    rmSync(this.path, { force: true });
  }
}
