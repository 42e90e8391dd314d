/**
 * In-process single-flight: concurrent callers asking for the same key share one running
 * promise instead of each starting the same work. The entry is dropped when the work settles,
 * so a later caller starts afresh (and re-reads whatever the first one stored).
 */
export class SingleFlight<T> {
  private readonly flights = new Map<string, Promise<T>>();

  run(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.flights.get(key);
    if (running) return running;
    const flight = work().finally(() => this.flights.delete(key));
    this.flights.set(key, flight);
    return flight;
  }

  /** true while work for `key` is running. */
  has(key: string): boolean {
    return this.flights.has(key);
  }

  get size(): number {
    return this.flights.size;
  }
}
