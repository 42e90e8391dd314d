import type { Keys } from './keys';
import type { Redis } from './redis';
import { execTransaction, storageOp } from './storage-errors';

/**
 * The latest component_verify_ticket. WeChat pushes a new one every 10 minutes and each is
 * valid 12 hours, so the last good one is kept (a missed push changes nothing) and expires
 * with its validity. The public key holds the bare ticket (design.md key contract); when it
 * was received lives in a private key, for the ticket-age readiness check.
 */
export interface TicketRecord {
  readonly ticket: string;
  /** Service-clock ms; undefined when the ticket was written by something other than this store. */
  readonly receivedAt: number | undefined;
}

export interface TicketStore {
  /** Stores a pushed ticket; an empty value is ignored so a garbled push never replaces a good ticket. */
  save(ticket: string, receivedAt: number): Promise<void>;
  get(): Promise<TicketRecord | undefined>;
}

export const TICKET_TTL_SECONDS = 12 * 60 * 60;

export class RedisTicketStore implements TicketStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async save(ticket: string, receivedAt: number): Promise<void> {
    if (!isStorableTicket(ticket)) return;
    await execTransaction(
      this.redis
        .multi()
        .set(this.keys.componentVerifyTicket, ticket, 'EX', TICKET_TTL_SECONDS)
        .set(this.keys.ticketMeta, ticketMetaValue(receivedAt), 'EX', TICKET_TTL_SECONDS),
    );
  }

  async get(): Promise<TicketRecord | undefined> {
    const [ticket, meta] = await storageOp(() => this.redis.mget(this.keys.componentVerifyTicket, this.keys.ticketMeta));
    if (!ticket) return undefined;
    return { ticket, receivedAt: parseReceivedAt(meta) };
  }
}

/** A blank ticket is never stored: a garbled push must not replace a good ticket. */
export function isStorableTicket(ticket: string): boolean {
  return ticket.trim() !== '';
}

/** The private meta key's value. */
export function ticketMetaValue(receivedAt: number): string {
  return JSON.stringify({ receivedAt });
}

function parseReceivedAt(meta: string | null | undefined): number | undefined {
  if (!meta) return undefined;
  try {
    const value = (JSON.parse(meta) as { receivedAt?: unknown }).receivedAt;
    return typeof value === 'number' ? value : undefined;
  } catch {
    return undefined;
  }
}
