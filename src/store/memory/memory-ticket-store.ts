import type { Clock } from '../../clock';
import { TICKET_TTL_SECONDS, type TicketRecord, type TicketStore } from '../ticket-store';
import { ExpiringMap } from './expiring-map';

/**
 * TicketStore in process memory, for the sandbox without Redis (see ./index.ts): the last good
 * ticket, kept 12 hours of the injected clock like the Redis key's TTL.
 */
export class MemoryTicketStore implements TicketStore {
  private readonly ticket: ExpiringMap<TicketRecord>;

  constructor(clock: Clock) {
    this.ticket = new ExpiringMap(clock);
  }

  private createTime: number | undefined;

  async save(ticket: string, receivedAt: number, createTime?: number): Promise<boolean> {
    if (ticket.trim() === '') return false;
    const stored = this.ticket.get('ticket') ? this.createTime : undefined;
    if (createTime !== undefined && stored !== undefined && stored > createTime) return false;
    this.createTime = createTime;
    // Redis keeps receivedAt as JSON, where a non-finite number becomes null, read back as undefined.
    const record: TicketRecord = { ticket, receivedAt: Number.isFinite(receivedAt) ? receivedAt : undefined };
    this.ticket.set('ticket', record, TICKET_TTL_SECONDS * 1000);
    return true;
  }

  async get(): Promise<TicketRecord | undefined> {
    const record = this.ticket.get('ticket');
    return record && { ...record };
  }
}
