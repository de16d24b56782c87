import { RateLimitDecision, SharedCounterStore, WindowCounter } from './window-counter';

/** A shared store in memory, answering after `latencyMs`, that can be made to fail. */
class MemoryStore implements SharedCounterStore {
  readonly counts = new Map<string, number>();
  calls = 0;
  failing = false;
  constructor(private readonly latencyMs = 1) {}
  async add(entries: readonly { key: string; amount: number }[]): Promise<number[]> {
    this.calls++;
    await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    if (this.failing) throw new Error('connection refused');
    return entries.map(({ key, amount }) => {
      const total = (this.counts.get(key) ?? 0) + amount;
      this.counts.set(key, total);
      return total;
    });
  }
}

const allowed = async (decision: RateLimitDecision | Promise<RateLimitDecision>) => (await decision).allowed;

describe('WindowCounter', () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => (now = 1_800_000_000_000 + 10_000)); // 10 s into a minute

  it('per process: admits the limit, then refuses until the window resets, with remaining and reset', () => {
    const counter = new WindowCounter({ now: clock });
    const decisions = Array.from({ length: 4 }, () => counter.hit('key:a', 3) as RateLimitDecision);
    expect(decisions.map((d) => [d.allowed, d.remaining])).toEqual([
      [true, 2],
      [true, 1],
      [true, 0],
      [false, 0],
    ]);
    expect(decisions[3]).toMatchObject({ limit: 3, resetSeconds: 50 });
    expect(counter.peek('key:a')).toEqual({ used: 3, refused: 1 });
    expect((counter.hit('key:b', 3) as RateLimitDecision).allowed).toBe(true);
    now += 50_000; // the next minute
    expect(counter.hit('key:a', 3)).toMatchObject({ allowed: true, remaining: 2, resetSeconds: 60 });
  });

  it('reset is rounded up and never 0', () => {
    const counter = new WindowCounter({ now: clock });
    now += 49_999;
    expect(counter.hit('ip:1', 5)).toMatchObject({ resetSeconds: 1 });
  });

  it('shared: decides without waiting for the store, and sends many hits in a few batches', async () => {
    const store = new MemoryStore();
    const counter = new WindowCounter({ store, flushIntervalMs: 20, now: clock });
    for (let i = 0; i < 1000; i++) {
      const decision = counter.hit(`key:${i % 3}`, 1_000_000);
      expect(decision).not.toBeInstanceOf(Promise);
    }
    await counter.flush();
    expect(store.calls).toBe(1);
    const window = Math.floor(now / 60_000);
    expect(store.counts.get(`key:0:${window}`)).toBe(334);
    expect(store.counts.get(`key:1:${window}`) ?? 0).toBe(333);
    await counter.close();
  });

  it("learns other instances' counts from the store's answers", async () => {
    const store = new MemoryStore();
    const a = new WindowCounter({ store, now: clock });
    const b = new WindowCounter({ store, now: clock });
    for (let i = 0; i < 40; i++) await a.hit('key:shared', 10_000);
    await a.flush();
    await b.hit('key:shared', 10_000);
    await b.flush();
    expect(b.peek('key:shared').used).toBe(41);
    await Promise.all([a.close(), b.close()]);
  });

  it.each([
    [10, 2],
    [120, 3],
    [1000, 4],
  ])(
    'shared by %i-request limit on %i instances: the total admitted stays within limit + instances × cap',
    async (limit, instances) => {
      const store = new MemoryStore(2);
      const counters = Array.from({ length: instances }, () => new WindowCounter({ store, flushIntervalMs: 10, now: clock }));
      const tries = Array.from({ length: limit * 3 }, (_, i) => counters[i % instances].hit('key:hot', limit));
      const admitted = (await Promise.all(tries.map(allowed))).filter(Boolean).length;
      await Promise.all(counters.map((c) => c.close()));
      const cap = Math.max(1, Math.floor(limit / 100));
      expect(admitted).toBeGreaterThanOrEqual(limit);
      expect(admitted).toBeLessThanOrEqual(limit + instances * cap);
      expect(store.counts.get(`key:hot:${Math.floor(now / 60_000)}`)).toBe(admitted);
    },
  );

  it('a hit beyond the unconfirmed cap waits for the store, then is decided on the new total', async () => {
    const store = new MemoryStore(5);
    const counter = new WindowCounter({ store, now: clock, unconfirmedCap: () => 2 });
    expect(counter.hit('key:x', 100)).toMatchObject({ allowed: true });
    expect(counter.hit('key:x', 100)).toMatchObject({ allowed: true });
    const third = counter.hit('key:x', 100);
    expect(third).toBeInstanceOf(Promise);
    expect(await third).toMatchObject({ allowed: true, remaining: 97 });
    await counter.close();
  });

  it('store down: serves and counts per process, reports once; back: reports once and sends what it counted', async () => {
    const store = new MemoryStore();
    store.failing = true;
    const states: boolean[] = [];
    const counter = new WindowCounter({
      store,
      flushIntervalMs: 5,
      retryIntervalMs: 5,
      now: clock,
      onStoreState: (up) => states.push(up),
    });
    const decisions: RateLimitDecision[] = [];
    for (let i = 0; i < 30; i++) {
      decisions.push(await counter.hit('key:d', 20));
      await counter.flush();
    }
    expect(states).toEqual([false]);
    expect(counter.shared).toBe(false);
    // Per process while the store is down: the limit still holds here, nothing waits on the store.
    expect(decisions.filter((d) => d.allowed)).toHaveLength(20);
    store.failing = false;
    await counter.flush();
    expect(states).toEqual([false, true]);
    expect(store.counts.get(`key:d:${Math.floor(now / 60_000)}`)).toBe(20);
    await counter.close();
  });

  it('keeps at most maxBuckets buckets, dropping past windows first', () => {
    const counter = new WindowCounter({ now: clock, maxBuckets: 100 });
    for (let i = 0; i < 100; i++) expect(counter.hit(`ip:${i}`, 5)).toMatchObject({ allowed: true });
    now += 60_000;
    for (let i = 100; i < 150; i++) expect(counter.hit(`ip:${i}`, 5)).toMatchObject({ allowed: true });
    expect(counter.peek('ip:149').used).toBe(1);
    expect(counter.peek('ip:0').used).toBe(0);
    expect((counter as unknown as { buckets: Map<string, unknown> }).buckets.size).toBeLessThanOrEqual(100);
  });
});
