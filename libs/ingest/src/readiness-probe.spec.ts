import { PROBE_CACHE_MS, ReadinessProbe } from './readiness-probe';

describe('ReadinessProbe', () => {
  function probe(answers: boolean[]) {
    let t = 0;
    let calls = 0;
    const p = new ReadinessProbe(
      async () => {
        const ok = answers[calls++];
        if (ok === undefined) throw new Error('no more answers');
        return ok;
      },
      () => t,
    );
    return { up: () => p.up(), later: () => (t += PROBE_CACHE_MS), calls: () => calls };
  }

  it('is down at once when the check never succeeded', async () => {
    const p = probe([false]);
    expect(await p.up()).toBe(false);
  });

  it('rides out one failed check after success, and is down after two in a row', async () => {
    const p = probe([true, false, false, true]);
    expect(await p.up()).toBe(true);
    p.later();
    expect(await p.up()).toBe(true); // one slow answer
    p.later();
    expect(await p.up()).toBe(false); // two: down
    p.later();
    expect(await p.up()).toBe(true);
  });

  it('asks at most once per period', async () => {
    const p = probe([true, false]);
    await p.up();
    await p.up();
    await p.up();
    expect(p.calls()).toBe(1);
  });

  it('counts a check that throws as a failure', async () => {
    const p = probe([true]);
    expect(await p.up()).toBe(true);
    p.later();
    expect(await p.up()).toBe(true);
    p.later();
    expect(await p.up()).toBe(false);
  });
});
