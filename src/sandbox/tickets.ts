/**
 * component_verify_ticket values the emulator has issued. Each push carries a new one; any issued ticket is
 * accepted by api_component_token until it is older than its lifetime (12 h at WeChat: 61005 after), and a value
 * never issued answers 61006 (protocol.md §2.1, §4.1).
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock';

// Far more than 12 h of 10-minute pushes; only a runaway loop could reach it, and then the oldest are forgotten.
const MAX_REMEMBERED = 10_000;

export class TicketBook {
  private readonly issued = new Map<string, number>();
  private latest: string | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly lifetimeSeconds: number,
  ) {}

  issue(): string {
    const ticket = `ticket@@@${randomBytes(48).toString('base64url')}`;
    this.issued.set(ticket, this.clock.now());
    if (this.issued.size > MAX_REMEMBERED) {
      const oldest = this.issued.keys().next().value as string;
      this.issued.delete(oldest);
    }
    this.latest = ticket;
    return ticket;
  }

  current(): string | undefined {
    return this.latest;
  }

  check(ticket: string): 'ok' | 'unknown' | 'expired' {
    const issuedAt = this.issued.get(ticket);
    if (issuedAt === undefined) return 'unknown';
    return this.clock.now() - issuedAt >= this.lifetimeSeconds * 1000 ? 'expired' : 'ok';
  }
}
