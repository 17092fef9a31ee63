import type { PipelineOutage } from '@iks/domain';
import { OutageRecorder } from './outage-recorder';

describe('OutageRecorder', () => {
  it('writes one marker from the first 503 to the first acknowledged write after it', async () => {
    let t = 1000;
    const written: Array<[string, PipelineOutage]> = [];
    const r = new OutageRecorder(
      async (k, o) => void written.push([k, o]),
      'ingest@h',
      () => t,
    );
    r.succeeded();
    r.failed();
    t = 5000;
    r.failed();
    r.failed();
    t = 9000;
    r.succeeded();
    r.succeeded();
    await r.settled();
    expect(written).toEqual([['ingest@h:1000', { since: 1000, until: 9000, failed_writes: 3, reporter: 'ingest@h' }]]);
  });

  it('keeps a marker Kafka did not take and writes it after the next acknowledged write', async () => {
    let t = 0;
    let fail = true;
    const written: PipelineOutage[] = [];
    const r = new OutageRecorder(
      async (_k, o) => {
        if (fail) throw new Error('broker gone again');
        written.push(o);
      },
      'ingest@h',
      () => t,
    );
    r.failed();
    t = 10;
    r.succeeded();
    await r.settled();
    expect(written).toEqual([]);
    expect(r.pending).toHaveLength(1);
    fail = false;
    r.succeeded();
    await r.settled();
    expect(written).toEqual([{ since: 0, until: 10, failed_writes: 1, reporter: 'ingest@h' }]);
    expect(r.pending).toHaveLength(0);
  });
});
