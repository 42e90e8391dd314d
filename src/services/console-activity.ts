import type { Clock } from '../clock';

const MINUTE_MS = 60_000;
const WINDOW_MINUTES = 60;

export interface LastHour {
  /** Upstream token refreshes that succeeded (component and authorizer). */
  readonly refreshes: number;
  /** Refreshes that failed, including those that ended in reauthorization_required. */
  readonly failedRefreshes: number;
  /** Calls to WeChat answered with a non-zero errcode or no usable answer. */
  readonly wechatErrors: number;
}

type Counter = keyof LastHour;

/**
 * This instance's refreshes and WeChat errors of the last hour, for the console's overview: one bucket
 * per minute, fed by the same hooks as the Prometheus counters. Per instance, like those counters (the
 * cluster-wide view is Prometheus' sum of wxopen_token_refreshes_total / wxopen_wechat_api_calls_total).
 */
export class RecentActivity {
  private readonly buckets = new Map<number, Record<Counter, number>>();

  constructor(private readonly clock: Clock) {}

  onRefresh(outcome: string): void {
    this.add(outcome === 'ok' ? 'refreshes' : 'failedRefreshes');
  }

  onWeChatCall(errcode: number | undefined): void {
    if (errcode !== 0) this.add('wechatErrors');
  }

  lastHour(): LastHour {
    const totals: Record<Counter, number> = { refreshes: 0, failedRefreshes: 0, wechatErrors: 0 };
    const oldest = this.minute() - WINDOW_MINUTES + 1;
    for (const [minute, counts] of this.buckets) {
      if (minute < oldest) continue;
      for (const name of Object.keys(totals) as Counter[]) totals[name] += counts[name];
    }
    return totals;
  }

  private add(counter: Counter): void {
    const minute = this.minute();
    let bucket = this.buckets.get(minute);
    if (!bucket) {
      bucket = { refreshes: 0, failedRefreshes: 0, wechatErrors: 0 };
      this.buckets.set(minute, bucket);
      for (const old of this.buckets.keys()) if (old <= minute - WINDOW_MINUTES) this.buckets.delete(old);
    }
    bucket[counter] += 1;
  }

  private minute(): number {
    return Math.floor(this.clock.now() / MINUTE_MS);
  }
}
