import type { AccountEvent } from '../client/account-events';
import { signWebhook } from '../client/webhook-signature';

/**
 * The HTTP side of a webhook: one signed POST of one event (docs/events.md). Any 2xx answer is a
 * delivery; anything else (another status, a redirect, a timeout, a refused connection) is a failure
 * the caller retries.
 */
export type SendResult = { ok: true; status: number } | { ok: false; error: string };

export interface WebhookSenderOptions {
  /** WEBHOOK_SECRET: every body is signed with each one (one v1 per secret). */
  readonly secrets: readonly string[];
  readonly timeoutMs: number;
}

export class WebhookSender {
  constructor(private readonly options: WebhookSenderOptions) {}

  async send(url: string, event: AccountEvent): Promise<SendResult> {
    const body = JSON.stringify(event);
    // The receiver compares t with its own clock: real time, not the service's (test) clock.
    const signature = signWebhook(body, this.options.secrets, Date.now() / 1000);
    try {
      const res = await fetch(url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.timeoutMs),
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': 'wxopen-auth-webhook',
          'X-Wxopen-Signature': signature,
          'X-Wxopen-Event-Id': event.event_id,
          'X-Wxopen-Event-Type': event.type,
        },
        body,
      });
      await res.body?.cancel().catch(() => undefined);
      return res.status >= 200 && res.status < 300
        ? { ok: true, status: res.status }
        : { ok: false, error: `HTTP ${res.status}` };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      return {
        ok: false,
        error:
          e.name === 'TimeoutError' ? `no answer within ${this.options.timeoutMs} ms` : (e.cause?.code ?? e.message),
      };
    }
  }
}

/** What logs and metrics show of a target: its origin (a path or query may carry a secret). */
export function targetLabel(url: string): string {
  return new URL(url).origin;
}
