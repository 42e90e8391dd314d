import { ManualClock } from '../../src/clock';
import { KnownAuthorizers } from '../../src/services/known-authorizers';

const A = 'wxauthorizer0001';
const B = 'wxauthorizer0002';

/** A lookup over a set the test changes, counting reads; `hold` keeps reads pending until `release`. */
function storedSet() {
  const stored = new Set<string>();
  let reads = 0;
  let held: Array<() => void> | undefined;
  return {
    stored,
    get reads() {
      return reads;
    },
    hold() {
      held = [];
    },
    release() {
      const waiting = held ?? [];
      held = undefined;
      for (const resume of waiting) resume();
    },
    lookup: async (appid: string) => {
      reads++;
      // The answer is the state when the read reached storage, as with Redis.
      const known = stored.has(appid);
      if (held) await new Promise<void>((resume) => held!.push(resume));
      return known;
    },
  };
}

describe('KnownAuthorizers (the message URL remembering which appids are stored)', () => {
  const frozen = () => new ManualClock({ now: () => 1_790_000_000_000 });

  it('remembers "stored" for knownTtlMs and "not stored" for unknownTtlMs, by the clock', async () => {
    const clock = frozen();
    const s = storedSet();
    s.stored.add(A);
    const known = new KnownAuthorizers(s.lookup, clock, { knownTtlMs: 60_000, unknownTtlMs: 1000 });
    expect(await known.isKnown(A)).toBe(true);
    expect(await known.isKnown(B)).toBe(false);
    expect(s.reads).toBe(2);
    // Another replica stores B: seen once the "not stored" entry expires, not before.
    s.stored.add(B);
    clock.advance(999);
    expect([await known.isKnown(A), await known.isKnown(B)]).toEqual([true, false]);
    expect(s.reads).toBe(2);
    clock.advance(1);
    expect(await known.isKnown(B)).toBe(true);
    expect(s.reads).toBe(3);
    clock.advance(60_000 - 1000 - 1);
    expect(await known.isKnown(A)).toBe(true);
    expect(s.reads).toBe(3);
    clock.advance(1);
    expect(await known.isKnown(A)).toBe(true);
    expect(s.reads).toBe(4);
  });

  it('forget (this process stored the account) makes the next ask read again at once', async () => {
    const s = storedSet();
    const known = new KnownAuthorizers(s.lookup, frozen());
    expect(await known.isKnown(A)).toBe(false);
    s.stored.add(A);
    known.forget(A);
    expect(await known.isKnown(A)).toBe(true);
    expect(s.reads).toBe(2);
  });

  it('concurrent asks share one read; a read begun before a forget is neither joined nor kept', async () => {
    const s = storedSet();
    const known = new KnownAuthorizers(s.lookup, frozen());
    s.hold();
    const early = [known.isKnown(A), known.isKnown(A), known.isKnown(A)];
    expect(s.reads).toBe(1);
    // The account is stored while that read is on its way, with its old answer.
    s.stored.add(A);
    known.forget(A);
    const late = known.isKnown(A);
    expect(s.reads).toBe(2);
    s.release();
    expect(await Promise.all(early)).toEqual([false, false, false]);
    expect(await late).toBe(true);
    expect(await known.isKnown(A)).toBe(true);
    expect(s.reads).toBe(2);
  });

  it('does not remember a failed read', async () => {
    let fail = true;
    const known = new KnownAuthorizers(
      () => (fail ? Promise.reject(new Error('storage (Redis) is unavailable')) : Promise.resolve(true)),
      frozen(),
    );
    await expect(known.isKnown(A)).rejects.toThrow('unavailable');
    fail = false;
    expect(await known.isKnown(A)).toBe(true);
  });

  it('keeps at most maxEntries, dropping the oldest', async () => {
    const s = storedSet();
    const known = new KnownAuthorizers(s.lookup, frozen(), { maxEntries: 2 });
    for (const appid of [A, B, 'wxauthorizer0003']) await known.isKnown(appid);
    expect(s.reads).toBe(3);
    await known.isKnown(B);
    await known.isKnown('wxauthorizer0003');
    expect(s.reads).toBe(3);
    await known.isKnown(A);
    expect(s.reads).toBe(4);
  });
});
