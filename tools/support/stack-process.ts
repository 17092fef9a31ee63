/**
 * Finds the processes of the stack the benches run against (the Kafka broker, the schema
 * registry) and the broker's data directory, wherever the stack was started from (the stack of
 * this machine runs from one checkout while benches run from others), so that a bench can read
 * their CPU time from /proc and the on-disk size of its topics.
 *
 * How: the process listening on the broker's (registry's) port, from /proc/net/tcp{,6} (the
 * socket inode of the LISTEN entry) and /proc/<pid>/fd (which process holds that inode). The data
 * directory: `log.dirs` of the properties file on the broker's command line (kafka.Kafka
 * <server.properties>, as scripts/stack.sh starts it). STACK_DIR (the directory scripts/stack.sh
 * keeps its pid files and kafka-data in) or KAFKA_DATA_DIR override what is found.
 *
 * Linux only; everything is best effort: what cannot be found is undefined, with the reason.
 */
import { readdirSync, readFileSync, readlinkSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';

/** One LISTEN socket of /proc/net/tcp or tcp6: its local port and socket inode. */
export interface ListenSocket {
  readonly port: number;
  readonly inode: number;
}

/** The LISTEN entries (st 0A) of a /proc/net/tcp or /proc/net/tcp6 text. */
export function parseProcNetTcp(text: string): ListenSocket[] {
  const out: ListenSocket[] = [];
  for (const row of text.split('\n').slice(1)) {
    const f = row.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== '0A') continue;
    const port = parseInt(f[1].split(':')[1] ?? '', 16);
    const inode = Number(f[9]);
    if (Number.isFinite(port) && inode > 0) out.push({ port, inode });
  }
  return out;
}

/** `log.dirs` (or `log.dir`) of a Kafka server.properties text: the first directory. */
export function parseLogDirs(properties: string): string | undefined {
  const props = new Map<string, string>();
  for (const raw of properties.split('\n')) {
    const l = raw.trim();
    if (!l || l.startsWith('#') || l.startsWith('!')) continue;
    const m = /^([^=:\s]+)\s*[=:]\s*(.*)$/.exec(l);
    if (m) props.set(m[1], m[2].trim());
  }
  const dirs = props.get('log.dirs') ?? props.get('log.dir');
  return dirs?.split(',')[0]?.trim() || undefined;
}

/** The pid of the process listening on `port` (any local address), or undefined. */
export function pidListeningOn(port: number): number | undefined {
  const inodes = new Set<number>();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      for (const s of parseProcNetTcp(readFileSync(f, 'utf8'))) if (s.port === port) inodes.add(s.inode);
    } catch {
      /* no such table */
    }
  }
  if (inodes.size === 0) return undefined;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to read
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(Number(m[1]))) return Number(pid);
      } catch {
        /* closed meanwhile */
      }
    }
  }
  return undefined;
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

function pidFile(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return pid > 0 && existsSync(`/proc/${pid}`) ? pid : undefined;
  } catch {
    return undefined;
  }
}

export interface StackProcesses {
  readonly kafkaPid?: number;
  readonly registryPid?: number;
  /** The broker's log directory (topic-partition directories under it). */
  readonly kafkaDataDir?: string;
  /** How each was found, or why not: printed by the bench. */
  readonly how: string[];
}

/**
 * The broker and registry of `brokers` (first host:port) and `registryUrl`. `env` may name
 * STACK_DIR (pid files kafka.pid / registry.pid and kafka-data, as scripts/stack.sh keeps them)
 * and KAFKA_DATA_DIR.
 */
export function findStackProcesses(
  brokers: string,
  registryUrl: string,
  env: { STACK_DIR?: string; KAFKA_DATA_DIR?: string } = {},
): StackProcesses {
  const how: string[] = [];
  const brokerPort = Number(brokers.split(',')[0].split(':').pop());
  const registryPort = Number(new URL(registryUrl).port || 80);
  let kafkaPid: number | undefined;
  let registryPid: number | undefined;
  if (env.STACK_DIR) {
    kafkaPid = pidFile(join(env.STACK_DIR, 'kafka.pid'));
    registryPid = pidFile(join(env.STACK_DIR, 'registry.pid'));
    how.push(`STACK_DIR=${env.STACK_DIR}: kafka pid ${kafkaPid ?? 'none'}, registry pid ${registryPid ?? 'none'}`);
  }
  if (kafkaPid === undefined) {
    kafkaPid = pidListeningOn(brokerPort);
    how.push(
      kafkaPid
        ? `kafka: pid ${kafkaPid} listens on port ${brokerPort}`
        : `kafka: no process of ours found listening on port ${brokerPort}`,
    );
  }
  if (registryPid === undefined) {
    registryPid = pidListeningOn(registryPort);
    how.push(
      registryPid
        ? `registry: pid ${registryPid} listens on port ${registryPort}`
        : `registry: no process of ours found listening on port ${registryPort}`,
    );
  }
  let kafkaDataDir: string | undefined = env.KAFKA_DATA_DIR;
  if (kafkaDataDir) how.push(`kafka data: KAFKA_DATA_DIR=${kafkaDataDir}`);
  if (!kafkaDataDir && env.STACK_DIR && existsSync(join(env.STACK_DIR, 'kafka-data'))) {
    kafkaDataDir = join(env.STACK_DIR, 'kafka-data');
    how.push(`kafka data: STACK_DIR/kafka-data`);
  }
  if (!kafkaDataDir && kafkaPid) {
    const props = cmdline(kafkaPid).find((a) => a.endsWith('.properties'));
    if (props) {
      try {
        kafkaDataDir = parseLogDirs(readFileSync(props, 'utf8'));
        how.push(`kafka data: log.dirs of ${props}`);
      } catch (e) {
        how.push(`kafka data: cannot read ${props} (${(e as Error).message})`);
      }
    } else {
      how.push('kafka data: no .properties file on the broker command line; set KAFKA_DATA_DIR');
    }
  }
  if (kafkaDataDir && !existsSync(kafkaDataDir)) {
    how.push(`kafka data: ${kafkaDataDir} does not exist here`);
    kafkaDataDir = undefined;
  }
  return { kafkaPid, registryPid, kafkaDataDir, how };
}

/**
 * Bytes in the log segments (*.log) of every partition directory of the topics starting with
 * `prefix`, by topic. Segment files grow by exactly the record batches the broker appends
 * (Kafka does not preallocate them on Linux); index files are preallocated and left out.
 */
export function topicLogBytes(dataDir: string, prefix: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const d of readdirSync(dataDir)) {
    if (!d.startsWith(prefix)) continue;
    const m = /^(.*)-(\d+)$/.exec(d);
    if (!m) continue; // e.g. <topic>-<partition>.<uuid>-delete
    let bytes = 0;
    try {
      for (const f of readdirSync(join(dataDir, d)))
        if (f.endsWith('.log')) bytes += statSync(join(dataDir, d, f)).size;
    } catch {
      continue; // deleted meanwhile
    }
    out.set(m[1], (out.get(m[1]) ?? 0) + bytes);
  }
  return out;
}
