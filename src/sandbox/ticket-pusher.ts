/**
 * The periodic component_verify_ticket push: one right away when the emulator starts listening, then one every
 * `intervalMs` (10 minutes at WeChat), each with a new ticket (protocol.md §2.1). Runs on real time, not on the
 * emulator clock: advancing a ManualClock by hours must not fire dozens of pushes.
 */
import type { EventPusher } from './event-pusher';
import type { PushResult } from './push-delivery';
import type { TicketBook } from './tickets';

export class TicketPusher {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly tickets: TicketBook,
    private readonly pusher: EventPusher,
    private readonly intervalMs: number,
  ) {}

  /** Issues a new ticket and pushes it; without a push URL the ticket is still issued (read it with current()). */
  async pushTicket(): Promise<PushResult> {
    const ticket = this.tickets.issue();
    const result = await this.pusher.push({ infoType: 'component_verify_ticket', componentVerifyTicket: ticket });
    return result ?? { delivered: false, attempts: 0 };
  }

  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    this.pushIfConfigured();
    this.timer = setInterval(() => this.pushIfConfigured(), this.intervalMs);
    // The listening server keeps a standalone emulator alive; the timer alone must not keep a test process alive.
    this.timer.unref();
  }

  /** A push URL set after start gets its first ticket at once instead of up to one interval later. */
  pushUrlChanged(previous: string | undefined): void {
    if (this.timer && previous === undefined) this.pushIfConfigured();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private pushIfConfigured(): void {
    if (this.pusher.pushUrl !== undefined) void this.pushTicket();
  }
}
