/**
 * Requests the emulator holds on purpose (delay and hang faults). close() must not wait for them: it releases
 * every one by dropping its connection, which is what a client sees when WeChat gives up on a request.
 */
import type { Response } from 'express';

export class Inflight {
  private readonly releases = new Set<() => void>();
  private closed = false;

  /** Never answers; the connection is dropped on close() (or when the client gives up first). */
  hang(res: Response): void {
    const release = (): void => {
      res.socket?.destroy();
    };
    if (this.closed) return release();
    this.releases.add(release);
    res.on('close', () => this.releases.delete(release));
  }

  /** Waits `ms` of real time; false when the emulator closed meanwhile (the caller then drops the request). */
  delay(ms: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const release = (): void => {
        clearTimeout(timer);
        this.releases.delete(release);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.releases.delete(release);
        resolve(true);
      }, ms);
      this.releases.add(release);
    });
  }

  closeAll(): void {
    this.closed = true;
    for (const release of [...this.releases]) release();
    this.releases.clear();
  }
}
