/**
 * Delivers one push the way WeChat does: POST, wait at most `timeoutMs`, count it delivered only on HTTP 200 with
 * the 7-byte body `success`, otherwise re-send up to `retries` times (protocol.md §1 "Required answer" and
 * "Retries / timeout"). Re-sends carry the same bytes and URL (timestamp, nonce, signatures), so the receiver can
 * recognise them as duplicates.
 *
 * node:http rather than fetch: one connection per attempt (no pooled keep-alive socket outliving close()), and an
 * abort that also covers a receiver that sends headers and then stalls.
 */
import http from 'node:http';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';

export interface PushResult {
  delivered: boolean;
  attempts: number;
  lastStatus?: number;
  lastBody?: string;
  /** Why the last attempt got no answer (timeout, connection refused, emulator closing). */
  lastError?: string;
}

export interface DeliveryPolicy {
  timeoutMs: number;
  retries: number;
  retryDelayMs: number;
}

const MAX_BODY_KEPT = 512;

type Attempt = { status: number; body: string } | { error: string };

export class PushDelivery {
  private readonly closing = new AbortController();

  constructor(private readonly policy: DeliveryPolicy) {}

  get closed(): boolean {
    return this.closing.signal.aborted;
  }

  /** Stops every attempt in flight and every pending retry. */
  close(): void {
    this.closing.abort();
  }

  async deliver(url: string, body: string): Promise<PushResult> {
    const result: PushResult = { delivered: false, attempts: 0 };
    for (let attempt = 0; attempt <= this.policy.retries && !this.closed; attempt++) {
      if (attempt > 0) {
        try {
          await sleep(this.policy.retryDelayMs, undefined, { signal: this.closing.signal });
        } catch {
          break; // closing
        }
      }
      result.attempts += 1;
      const outcome = await this.attempt(url, body);
      if ('error' in outcome) {
        result.lastError = outcome.error;
        delete result.lastStatus;
        delete result.lastBody;
        continue;
      }
      delete result.lastError;
      result.lastStatus = outcome.status;
      result.lastBody = outcome.body.slice(0, MAX_BODY_KEPT);
      if (outcome.status === 200 && outcome.body === 'success') {
        result.delivered = true;
        break;
      }
    }
    return result;
  }

  private attempt(url: string, body: string): Promise<Attempt> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (outcome: Attempt): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.closing.signal.removeEventListener('abort', onClose);
        resolve(outcome);
      };
      const client = url.startsWith('https:') ? https : http;
      const payload = Buffer.from(body, 'utf8');
      const req = client.request(url, {
        method: 'POST',
        agent: false,
        headers: { 'Content-Type': 'text/xml', 'Content-Length': payload.length },
      });
      const timer = setTimeout(() => {
        finish({ error: `no answer within ${this.policy.timeoutMs} ms` });
        req.destroy();
      }, this.policy.timeoutMs);
      const onClose = (): void => {
        finish({ error: 'emulator closed' });
        req.destroy();
      };
      this.closing.signal.addEventListener('abort', onClose);
      req.on('error', (err) => finish({ error: err.message }));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          // Keep a little more than `success` needs; a huge answer is wrong anyway.
          if (size < 64 * 1024) chunks.push(chunk);
          size += chunk.length;
        });
        res.on('end', () => finish({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err) => finish({ error: err.message }));
      });
      req.end(payload);
    });
  }
}
