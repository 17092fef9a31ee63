import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseLogDirs, parseProcNetTcp, topicLogBytes } from './stack-process';

describe('stack process discovery', () => {
  it('reads the LISTEN sockets of /proc/net/tcp', () => {
    const text = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:2384 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41234 1 0000000000000000 100 0 0 10 0',
      '   1: 0100007F:C350 0100007F:2384 01 00000000:00000000 00:00000000 00000000     0        0 41299 1 0000000000000000 20 4 30 10 -1',
    ].join('\n');
    expect(parseProcNetTcp(text)).toEqual([{ port: 9092, inode: 41234 }]);
  });

  it('takes the first of log.dirs from server.properties', () => {
    expect(parseLogDirs('# c\nnode.id=1\nlog.dirs=/a/kafka-data,/b\n')).toBe('/a/kafka-data');
    expect(parseLogDirs('log.dir = /only\n')).toBe('/only');
    expect(parseLogDirs('node.id=1\n')).toBeUndefined();
  });

  it("sums the .log segments of the prefix's partition directories by topic, not indexes or deleted dirs", () => {
    const dir = mkdtempSync(join(tmpdir(), 'logdirs-'));
    const put = (d: string, f: string, bytes: number) => {
      mkdirSync(join(dir, d), { recursive: true });
      writeFileSync(join(dir, d, f), Buffer.alloc(bytes));
    };
    put('run1.a.v1-0', '00000000000000000000.log', 100);
    put('run1.a.v1-0', '00000000000000000000.index', 5000);
    put('run1.a.v1-1', '00000000000000000000.log', 50);
    put('run1.b.v1-0', '00000000000000000000.log', 7);
    put('run1.a.v1-2.4f2c1d-delete', '00000000000000000000.log', 999);
    put('other.a.v1-0', '00000000000000000000.log', 999);
    expect(topicLogBytes(dir, 'run1.')).toEqual(
      new Map([
        ['run1.a.v1', 150],
        ['run1.b.v1', 7],
      ]),
    );
  });
});
