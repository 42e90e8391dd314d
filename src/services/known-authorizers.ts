import type { Clock } from '../clock';
import { SingleFlight } from './single-flight';

export interface KnownAuthorizersOptions {
  /** How long "stored" is believed. The service never deletes an account, so this only bounds a manual deletion. */
  knownTtlMs: number;
  /**
   * How long "not stored" is believed. Another replica that stores the authorization meanwhile is not heard of,
   * so this bounds how long its messages may still be recorded `known=0` here.
   */
  unknownTtlMs: number;
  /** Entries kept at most; the oldest goes first. */
  maxEntries: number;
}

export const KNOWN_AUTHORIZERS_DEFAULTS: Readonly<KnownAuthorizersOptions> = Object.freeze({
  knownTtlMs: 10 * 60_000,
  unknownTtlMs: 1000,
  maxEntries: 10_000,
});

/**
 * Whether an authorization of an appid is stored, remembered briefly in this process: the message URL asks it for
 * every message, and the answer lives in the account's Cluster slot, which the message's one-script write cannot
 * include. Concurrent askers of one appid share one read. `forget` is the invalidation: called when this process
 * writes an account (its account events), so here the answer is never stale; other replicas' writes are seen
 * once an "unknown" entry expires (`unknownTtlMs`).
 */
export class KnownAuthorizers {
  private readonly entries = new Map<string, { known: boolean; until: number }>();
  private readonly reads = new SingleFlight<boolean>();
  private readonly options: KnownAuthorizersOptions;
  /** Bumped by every `forget`: a read that started before it may have seen the old state, so it is not kept. */
  private generation = 0;

  constructor(
    private readonly lookup: (appid: string) => Promise<boolean>,
    private readonly clock: Clock,
    options: Partial<KnownAuthorizersOptions> = {},
  ) {
    this.options = { ...KNOWN_AUTHORIZERS_DEFAULTS, ...options };
  }

  isKnown(appid: string): Promise<boolean> {
    const entry = this.entries.get(appid);
    if (entry && entry.until > this.clock.now()) return Promise.resolve(entry.known);
    // Keyed by generation too: an asker after a `forget` never joins a read that began before it.
    const generation = this.generation;
    return this.reads.run(`${generation}:${appid}`, () => this.read(appid, generation));
  }

  forget(appid: string): void {
    this.generation++;
    this.entries.delete(appid);
  }

  private async read(appid: string, generation: number): Promise<boolean> {
    const known = await this.lookup(appid);
    if (generation === this.generation) this.remember(appid, known);
    return known;
  }

  private remember(appid: string, known: boolean): void {
    const { knownTtlMs, unknownTtlMs, maxEntries } = this.options;
    this.entries.delete(appid);
    if (this.entries.size >= maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(appid, { known, until: this.clock.now() + (known ? knownTtlMs : unknownTtlMs) });
  }
}
