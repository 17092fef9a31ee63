import { loadConfig } from '@iks/config';
import { StaticConnections } from '@iks/connections';
import { testConnection } from '../../../../test/support/connections';
import { runConnectionsClaim } from './connections-claim.command';

describe('connections claim: refusals that need no broker', () => {
  const config = loadConfig({ KAFKA_BROKERS: '127.0.0.1:1', LOG_LEVEL: 'warn' }, 'cli');
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { stdout: (l: string) => void out.push(l), stderr: (l: string) => void err.push(l) } };
  };

  it('an unknown connection: exit 1, naming the connections it knows', async () => {
    const t = io();
    const connections = new StaticConnections([testConnection('acme', 'ws-acme')]);
    const code = await runConnectionsClaim({ connectionId: 'globex', fromBeginning: false, yes: true }, config, t.io, {
      connections,
    });
    expect(code).toBe(1);
    expect(t.err.join('\n')).toBe(
      'connections claim: no connection "globex" (known: acme); add it first, then claim its webhooks',
    );
    expect(t.out).toEqual([]);
  });
});
