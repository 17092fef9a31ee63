import './kafka-client';
import { applyRequestQueueIdleFix, requestQueueClass } from './request-queue-idle-fix';

interface Queue {
  pending: unknown[];
  inflight: Map<number, unknown>;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  push(r: { entry: object; expectResponse: boolean; sendRequest: () => void }): void;
  fulfillRequest(r: { correlationId: number; payload: Buffer | null; size: number }): void;
  maybeThrottle(ms: number): void;
  destroy(): void;
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

function queue(maxInFlightRequests: number | null = null): Queue {
  const RequestQueue = requestQueueClass() as unknown as new (o: object) => Queue;
  return new RequestQueue({
    maxInFlightRequests,
    requestTimeout: 30_000,
    enforceRequestTimeout: false,
    clientId: 'spec',
    broker: '127.0.0.1:9092',
    logger: quiet,
  });
}

function request(correlationId: number, sent: number[]) {
  return {
    entry: { correlationId, apiKey: 0, apiName: 'Produce', apiVersion: 3, resolve() {}, reject() {} },
    expectResponse: true,
    sendRequest: () => sent.push(correlationId),
  };
}

describe("kafkajs' request queue with the idle fix (loaded with kafka-client)", () => {
  it('is applied once and stays applied', () => {
    expect(applyRequestQueueIdleFix()).toBe(true);
    expect(applyRequestQueueIdleFix()).toBe(true);
  });

  it('schedules no timer once the last answer is in and nothing waits (kafkajs 2.2.4 re-armed a 1 ms one for ever)', () => {
    const q = queue();
    const sent: number[] = [];
    q.push(request(1, sent));
    expect(sent).toEqual([1]);
    q.fulfillRequest({ correlationId: 1, payload: null, size: 0 });
    expect(q.inflight.size).toBe(0);
    expect(q.throttleCheckTimeoutId).toBeNull();
    q.destroy();
  });

  it('still sends a request held back by a broker throttle once the throttle is over', async () => {
    const q = queue();
    const sent: number[] = [];
    q.maybeThrottle(40);
    q.push(request(7, sent));
    expect(sent).toEqual([]);
    expect(q.pending).toHaveLength(1);
    expect(q.throttleCheckTimeoutId).not.toBeNull();
    const t0 = Date.now();
    while (sent.length === 0 && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 5));
    expect(sent).toEqual([7]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(30);
    q.fulfillRequest({ correlationId: 7, payload: null, size: 0 });
    expect(q.throttleCheckTimeoutId).toBeNull();
    q.destroy();
  });

  it('sends requests held back by the in-flight limit as answers come in', async () => {
    const q = queue(1);
    const sent: number[] = [];
    q.push(request(1, sent));
    q.push(request(2, sent));
    expect(sent).toEqual([1]);
    q.fulfillRequest({ correlationId: 1, payload: null, size: 0 });
    expect(sent).toEqual([1, 2]);
    q.fulfillRequest({ correlationId: 2, payload: null, size: 0 });
    expect(q.pending).toHaveLength(0);
    // the 10 ms check scheduled while request 2 waited runs once and schedules nothing after it
    await new Promise((r) => setTimeout(r, 40));
    expect(q.throttleCheckTimeoutId).toBeNull();
    q.destroy();
  });
});
