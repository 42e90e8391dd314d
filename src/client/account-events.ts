/**
 * The account events of `P:events` and of the webhooks (docs/events.md): the schema shared by the
 * service, which writes them, and by internal services, which read them. Depends on nothing of the
 * service, so a consumer can import it alone.
 *
 * In the stream every field is a string (arrays as JSON text); in a webhook body the same event is
 * a JSON object with numbers and arrays.
 */

export const ACCOUNT_EVENT_TYPES = [
  'authorized',
  'updateauthorized',
  'unauthorized',
  'reauthorization_required',
  'authorization_failed',
  'recovered',
] as const;
export type AccountEventType = (typeof ACCOUNT_EVENT_TYPES)[number];

interface EventBase {
  /** Stable across re-deliveries and re-emissions: de-duplicate on it. A UUIDv7, so it sorts by time. */
  readonly event_id: string;
  readonly authorizer_appid: string;
  /** Epoch ms of the state change. */
  readonly occurred_at: number;
}

export interface AuthorizedEvent extends EventBase {
  readonly type: 'authorized';
  /** Permission-set ids (funcscope_category.id) granted, sorted. */
  readonly permissions: number[];
}

export interface UpdateAuthorizedEvent extends EventBase {
  readonly type: 'updateauthorized';
  readonly permissions_before: number[];
  readonly permissions_after: number[];
}

export interface UnauthorizedEvent extends EventBase {
  readonly type: 'unauthorized';
}

export interface ReauthorizationRequiredEvent extends EventBase {
  readonly type: 'reauthorization_required';
  /** WeChat's errcode (61023, 61003), or null when no refresh token was stored at all. */
  readonly errcode: number | null;
}

export interface AuthorizationFailedEvent extends EventBase {
  readonly type: 'authorization_failed';
  /** The InfoType of the authorization that failed (authorized / updateauthorized). */
  readonly info_type: string;
  /** Why: WeChat refused the authorization code (expired or used); the admin must authorize again. */
  readonly reason: string;
}

export interface RecoveredEvent extends EventBase {
  readonly type: 'recovered';
}

export type AccountEvent =
  | AuthorizedEvent
  | UpdateAuthorizedEvent
  | UnauthorizedEvent
  | ReauthorizationRequiredEvent
  | AuthorizationFailedEvent
  | RecoveredEvent;

const NUMBER_LIST_FIELDS = new Set(['permissions', 'permissions_before', 'permissions_after']);

/** The stream entry's field/value pairs of an event (flat, in a fixed order). */
export function eventToFields(event: AccountEvent): string[] {
  const fields: string[] = [];
  for (const [name, value] of Object.entries(event)) {
    if (value === undefined) continue;
    fields.push(name, Array.isArray(value) ? JSON.stringify(value) : value === null ? '' : String(value));
  }
  return fields;
}

/** An event back from a stream entry's fields (as ioredis returns them: [name, value, name, value…]). */
export function eventFromFields(flat: readonly string[]): AccountEvent {
  const raw: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) raw[flat[i]!] = flat[i + 1]!;
  if (!ACCOUNT_EVENT_TYPES.includes(raw.type as AccountEventType) || !raw.event_id || !raw.authorizer_appid) {
    throw new Error(`not an account event: ${JSON.stringify(raw).slice(0, 200)}`);
  }
  const event: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (NUMBER_LIST_FIELDS.has(name)) event[name] = JSON.parse(value) as number[];
    else if (name === 'occurred_at') event[name] = Number(value);
    else if (name === 'errcode') event[name] = value === '' ? null : Number(value);
    else event[name] = value;
  }
  return event as unknown as AccountEvent;
}

/**
 * A UUIDv7 (RFC 9562): 48 bits of epoch ms, then random bits. Ids made later sort after earlier
 * ones (to the ms), which is what orders an account's outbox.
 */
export function newEventId(nowMs: number, random: (size: number) => Uint8Array): string {
  const bytes = random(16);
  let ms = Math.max(0, Math.floor(nowMs));
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The ms timestamp a UUIDv7 event id carries. */
export function eventIdTime(eventId: string): number {
  return parseInt(eventId.replace(/-/g, '').slice(0, 12), 16);
}
