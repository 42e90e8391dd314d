/**
 * Per-endpoint daily call limits (45009 once reached) and the monthly budget of quota resets (10, shared by
 * clear_quota and clear_quota/v2; 48006 after). WeChat publishes no numbers for component APIs; the default
 * 10 000/day for api_component_token is the community-observed one (shared/docs/protocol.md §4.8, §8).
 * Days and months turn at midnight Beijing time on the emulator clock, so tests can cross them by advancing it.
 */
import type { Clock } from '../clock';
import { assertEndpoint, type Endpoint } from './endpoints';

export const DEFAULT_QUOTAS: Readonly<Partial<Record<Endpoint, number>>> = { api_component_token: 10_000 };
export const CLEARS_PER_MONTH = 10;

const BEIJING_OFFSET_MS = 8 * 3600 * 1000;
const DAY_MS = 24 * 3600 * 1000;

export interface QuotaStatus {
  endpoint: string;
  /** null = unlimited. */
  dailyLimit: number | null;
  used: number;
}

export class Quotas {
  private readonly limits = new Map<Endpoint, number>();
  private used = new Map<Endpoint, number>();
  private day: number;
  private readonly clears = new Map<string, { month: number; count: number }>();

  constructor(
    private readonly clock: Clock,
    limits: Partial<Record<string, number>>,
  ) {
    for (const [endpoint, limit] of Object.entries(limits)) this.setLimit(endpoint, limit);
    this.day = this.today();
  }

  setLimit(endpoint: string, limit: number | undefined): void {
    const name = assertEndpoint(endpoint);
    if (limit === undefined) {
      this.limits.delete(name);
      return;
    }
    if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError('a daily limit must be a non-negative integer');
    this.limits.set(name, limit);
  }

  exceeded(endpoint: Endpoint): boolean {
    const limit = this.limits.get(endpoint);
    return limit !== undefined && this.usedToday(endpoint) >= limit;
  }

  /** Counts one successful call: failed calls do not eat the quota. */
  record(endpoint: Endpoint): void {
    this.used.set(endpoint, this.usedToday(endpoint) + 1);
  }

  /** Spends one of the appid's monthly resets; false when none is left (48006). */
  spendClear(appid: string): boolean {
    const month = this.month();
    const entry = this.clears.get(appid);
    const count = entry && entry.month === month ? entry.count : 0;
    if (count >= CLEARS_PER_MONTH) return false;
    this.clears.set(appid, { month, count: count + 1 });
    return true;
  }

  resetDailyCounts(): void {
    this.used = new Map();
  }

  status(): QuotaStatus[] {
    const names = new Set<Endpoint>([...this.limits.keys(), ...this.used.keys()]);
    return [...names].map((endpoint) => ({
      endpoint,
      dailyLimit: this.limits.get(endpoint) ?? null,
      used: this.usedToday(endpoint),
    }));
  }

  private usedToday(endpoint: Endpoint): number {
    const today = this.today();
    if (today !== this.day) {
      this.day = today;
      this.used = new Map();
    }
    return this.used.get(endpoint) ?? 0;
  }

  private today(): number {
    return Math.floor((this.clock.now() + BEIJING_OFFSET_MS) / DAY_MS);
  }

  private month(): number {
    const d = new Date(this.clock.now() + BEIJING_OFFSET_MS);
    return d.getUTCFullYear() * 12 + d.getUTCMonth();
  }
}
