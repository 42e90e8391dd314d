/**
 * The load generator: autocannon, in the runner's process (the server under test is always another process).
 * Every run is bounded in time (duration + a hard stop) and in count (maxRequests). Latencies are taken from
 * autocannon's per-response timings (sub-millisecond) rather than its whole-millisecond histogram.
 */
import autocannon from 'autocannon';
import { percentiles } from './common';

export interface RequestSpec {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface LoadOptions {
  url: string;
  connections: number;
  durationS: number;
  /** The i-th request of this run. Called by the generator for every request, so keep it cheap. */
  request: (i: number) => RequestSpec;
  /** Safety bound on the number of requests of one run. */
  maxRequests?: number;
}

export interface LoadResult {
  requests: number;
  reqPerSec: number;
  p50: number;
  p99: number;
  /** Connection errors, timeouts and non-2xx answers. */
  errors: number;
  non2xx: number;
  durationS: number;
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  let issued = 0;
  const max = opts.maxRequests ?? 5_000_000;
  const latencies: number[] = [];
  let stopped = false;
  let instance: autocannon.Instance | undefined;
  // autocannon stops itself after `duration`; this is the belt to its braces.
  const hardStop = setTimeout(() => instance?.stop(), (opts.durationS + 15) * 1000);
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url: opts.url,
        connections: opts.connections,
        pipelining: 1,
        duration: opts.durationS,
        timeout: 10,
        requests: [
          {
            setupRequest: (req) => {
              if (issued >= max && !stopped) {
                stopped = true;
                setImmediate(() => instance?.stop());
              }
              const spec = opts.request(issued++);
              return { ...req, method: spec.method, path: spec.path, headers: spec.headers ?? {}, body: spec.body };
            },
          },
        ],
      },
      (err: Error | null, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
  }).finally(() => clearTimeout(hardStop));
  const [p50, p99] = percentiles(latencies, [50, 99]);
  const completed = result.requests.total;
  return {
    requests: completed,
    reqPerSec: completed / result.duration,
    p50: p50!,
    p99: p99!,
    errors: result.errors + result.non2xx, // errors include timeouts
    non2xx: result.non2xx,
    durationS: result.duration,
  };
}
