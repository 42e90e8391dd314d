/**
 * WeChat's identifiers and credentials, and the one rule for each (zod schemas). Every route, the push
 * path and the configuration validate through these, so a value that could reach a Redis key or a URL is
 * checked by one pattern, stated once.
 * Shapes: shared/docs/protocol.md §1 (push query), §4–§5 (codes, the login page's parameters).
 */
import { z } from 'zod';

/**
 * An appid of an Official Account, a Mini Program or a third-party platform: `wx` and 16 characters
 * (WeChat issues 16 hexadecimal digits; letters are allowed so emulator and test accounts can be readable).
 * Braces, colons, slashes and spaces never pass, so an appid is always safe inside a Redis key.
 */
const APPID_PATTERN = /^wx[0-9A-Za-z]{16}$/;
export const APPID_RULE = '"wx" followed by 16 letters or digits';

export const appIdSchema = z.string().regex(APPID_PATTERN, `must be a WeChat appid: ${APPID_RULE}`);

export function isAppId(value: unknown): value is string {
  return typeof value === 'string' && APPID_PATTERN.test(value);
}

/**
 * Single-use codes WeChat issues (auth_code / AuthorizationCode `queryauthcode@@@…`, pre_auth_code): visible
 * ASCII without spaces. Their exact alphabet is WeChat's business; the bound keeps junk out of logs and calls.
 */
const CODE_PATTERN = /^[\x21-\x7e]{1,512}$/;
export const authCodeSchema = z.string().regex(CODE_PATTERN, 'must be 1 to 512 visible ASCII characters');
export const preAuthCodeSchema = authCodeSchema;

/** The login page's `auth_type`: 1 Official Accounts only, 2 Mini Programs only, 3 both (protocol.md §5). */
export const authTypeSchema = z.enum(['1', '2', '3'], { error: 'auth_type must be 1, 2 or 3' });
export type AuthTypeParam = z.infer<typeof authTypeSchema>;

/** The login page's `biz_appid`: the one account the admin may authorize. */
export const bizAppIdSchema = appIdSchema;

/** 消息校验Token: WeChat's console accepts 3–32 letters or digits. */
export const componentTokenSchema = z
  .string()
  .regex(/^[A-Za-z0-9]{3,32}$/, 'must be 3 to 32 letters or digits, as the Open Platform console accepts');

/**
 * AppSecret: WeChat issues 32 hexadecimal characters. Visible ASCII of 16–64 characters admits the demo
 * secrets of the emulator and refuses what can never be one (a stray short value, whitespace, a pasted line).
 */
export const appSecretSchema = z
  .string()
  .regex(
    /^[\x21-\x7e]{16,64}$/,
    'must be 16 to 64 visible ASCII characters without spaces (WeChat issues 32 hex characters)',
  );

/** A query value given exactly once (Express turns `?a=1&a=2` into an array, which is refused here). */
const queryValue = (name: string, pattern: RegExp, rule: string) =>
  z
    .string({ error: `query parameter ${name} is required (once)` })
    .min(1, `query parameter ${name} is required (once)`)
    .regex(pattern, `query parameter ${name} ${rule}`);

/**
 * The query string of a push to the authorization-event URL (protocol.md §1): `timestamp`, `nonce`,
 * `msg_signature` required; `encrypt_type` is always `aes` for a third-party platform; `signature` (the plain
 * one) is not used in encrypted mode, so it is only checked to be a single value.
 */
export const pushQuerySchema = z.object({
  timestamp: queryValue('timestamp', /^\d{1,12}$/, 'must be Unix seconds'),
  nonce: queryValue('nonce', /^[\x21-\x7e]{1,64}$/, 'must be 1 to 64 visible ASCII characters'),
  // Its value is judged by the constant-time signature check (a wrong one is 401, whatever its shape).
  msg_signature: queryValue('msg_signature', /^[\x21-\x7e]{1,128}$/, 'must be visible ASCII'),
  encrypt_type: queryValue('encrypt_type', /^aes$/, 'must be aes').optional(),
  signature: queryValue('signature', /^[\x21-\x7e]{1,128}$/, 'must be visible ASCII').optional(),
});
export type PushQuery = z.infer<typeof pushQuerySchema>;

/** The first problem of a failed parse, as one sentence for a 400 answer or a config line. */
export function firstProblem(error: z.ZodError): string {
  return error.issues[0]?.message ?? 'is malformed';
}
