import type { Keys } from './keys';
import type { Redis } from './redis';
import { defineScripts, runScript, type LuaScript } from './lua-script';
import { storageOp } from './storage-errors';

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
  /**
   * Stores a pushed ticket; an empty value is ignored so a garbled push never replaces a good ticket, and so is
   * a ticket whose push is older (`createTime`, Unix seconds) than the stored one's. false: nothing written.
   */
  save(ticket: string, receivedAt: number, createTime?: number): Promise<boolean>;
  get(): Promise<TicketRecord | undefined>;
}

export const TICKET_TTL_SECONDS = 12 * 60 * 60;

/**
 * KEYS: the ticket, its meta (JSON). ARGV: ticket, meta JSON, TTL s, the push's CreateTime or ''. A ticket from a
 * push older than the stored ticket's is not written (returns 0): an old push must not replace a newer ticket.
 */
const SAVE_TICKET: LuaScript = {
  name: 'wxTicketSave',
  numberOfKeys: 2,
  lua: `
if ARGV[4] ~= '' then
  local ok, meta = pcall(cjson.decode, redis.call('GET', KEYS[2]) or '{}')
  local stored = ok and type(meta) == 'table' and tonumber(meta.createTime)
  if stored and stored > tonumber(ARGV[4]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
return 1
`,
};

export class RedisTicketStore implements TicketStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {
    defineScripts(redis, [SAVE_TICKET]);
  }

  async save(ticket: string, receivedAt: number, createTime?: number): Promise<boolean> {
    if (!isStorableTicket(ticket)) return false;
    const { componentVerifyTicket, ticketMeta } = this.keys;
    const args = [ticket, ticketMetaValue(receivedAt, createTime), TICKET_TTL_SECONDS, createTime ?? ''];
    const written = await storageOp(() =>
      runScript(this.redis, SAVE_TICKET, [componentVerifyTicket, ticketMeta], args),
    );
    return written === 1;
  }

  async get(): Promise<TicketRecord | undefined> {
    const [ticket, meta] = await storageOp(() =>
      this.redis.mget(this.keys.componentVerifyTicket, this.keys.ticketMeta),
    );
    if (!ticket) return undefined;
    return { ticket, receivedAt: parseReceivedAt(meta) };
  }
}

/** A blank ticket is never stored: a garbled push must not replace a good ticket. */
export function isStorableTicket(ticket: string): boolean {
  return ticket.trim() !== '';
}

/** The private meta key's value. */
function ticketMetaValue(receivedAt: number, createTime: number | undefined): string {
  return JSON.stringify(createTime === undefined ? { receivedAt } : { receivedAt, createTime });
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
