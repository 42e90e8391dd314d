import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { AccountEvent } from '../../src/client/account-events';
import { verifyWebhookSignature } from '../../src/client/webhook-signature';

export interface ReceivedWebhook {
  readonly eventId: string;
  readonly event: AccountEvent;
  readonly signature: string;
}

/** ok: 200 after verifying; fail: 500; hold: keep the request open until release(). */
export type ReceiverMode = 'ok' | 'fail' | 'hold';

/**
 * A webhook receiver over real HTTP on loopback: verifies every request's signature with the
 * client helper (a bad one is answered 401 and counted), records the verified ones, and can be
 * stopped and started again on the same port (really down in between: connections are refused).
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  readonly rejected: string[] = [];
  mode: ReceiverMode = 'ok';
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private held: { res: ServerResponse; eventId: string }[] = [];
  private port = 0;

  constructor(private secrets: string[]) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/wxopen`;
  }

  setSecrets(secrets: string[]): void {
    this.secrets = secrets;
  }

  heldEventIds(): string[] {
    return this.held.map((h) => h.eventId);
  }

  uniqueEvents(): AccountEvent[] {
    const seen = new Set<string>();
    return this.received.filter((r) => !seen.has(r.eventId) && seen.add(r.eventId)).map((r) => r.event);
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Down for real: the listener closes and every open connection is cut. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const s of this.sockets) s.destroy();
    this.held = [];
    await new Promise<void>((r) => server.close(() => r()));
  }

  /** Answers the held requests 200 (their senders may be gone). */
  release(): void {
    for (const { res } of this.held) if (!res.destroyed) res.writeHead(200).end('ok');
    this.held = [];
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const signature = String(req.headers['x-wxopen-signature'] ?? '');
    const eventId = String(req.headers['x-wxopen-event-id'] ?? '');
    const verified = verifyWebhookSignature(signature, raw, { secrets: this.secrets });
    if (!verified.ok || req.method !== 'POST' || req.headers['content-type'] !== 'application/json') {
      this.rejected.push(`${eventId}: ${verified.ok ? 'bad request' : verified.reason}`);
      res.writeHead(401).end();
      return;
    }
    const event = JSON.parse(raw.toString('utf8')) as AccountEvent;
    if (event.event_id !== eventId) this.rejected.push(`${eventId}: header and body disagree`);
    if (this.mode === 'fail') {
      res.writeHead(500).end();
      return;
    }
    if (this.mode === 'hold') {
      this.held.push({ res, eventId });
      return;
    }
    this.received.push({ eventId, event, signature });
    res.writeHead(204).end();
  }
}
