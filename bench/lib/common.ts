/**
 * Small helpers shared by every benchmark scenario: the demo component credentials, the environment
 * of a service process, statistics, and the machine description printed with every result.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');

/** Demo credentials of the benchmark's component (never real ones); the emulator uses the same. */
export const BENCH_COMPONENT = {
  appId: 'wx0000000benchcomp',
  appSecret: 'bench-component-secret-0123456789',
  token: 'benchpushtoken',
  aesKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
} as const;

export const INTERNAL_API_TOKEN = `bench-internal-${randomBytes(12).toString('hex')}`;

/** A key prefix no other run (or test) shares, so the benchmark never needs to flush a Redis. */
export function uniquePrefix(label: string): string {
  return `bench-${label}-${randomBytes(5).toString('hex')}`;
}

/** The environment of a service process (src/main.ts or bench/workers/service.ts). */
export function serviceEnv(opts: {
  port: number;
  redisUrl: string;
  keyPrefix: string;
  apiBaseUrl: string;
  logLevel?: string;
  extra?: Record<string, string>;
}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    PORT: String(opts.port),
    PUBLIC_BASE_URL: `http://127.0.0.1:${opts.port}`,
    WECHAT_COMPONENT_APPID: BENCH_COMPONENT.appId,
    WECHAT_COMPONENT_APPSECRET: BENCH_COMPONENT.appSecret,
    WECHAT_COMPONENT_TOKEN: BENCH_COMPONENT.token,
    WECHAT_COMPONENT_AES_KEY: BENCH_COMPONENT.aesKey,
    WECHAT_API_BASE_URL: opts.apiBaseUrl,
    REDIS_URL: opts.redisUrl,
    REDIS_KEY_PREFIX: opts.keyPrefix,
    INTERNAL_API_TOKEN,
    // The default level: what an operator runs. Output goes to /dev/null (stdio ignored), as cheap as a log pipe gets.
    LOG_LEVEL: opts.logLevel ?? 'info',
    REFRESHER_ENABLED: 'false',
    ...opts.extra,
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile of an already sorted array. */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function percentiles(values: ArrayLike<number>, ps: number[]): number[] {
  const sorted = Float64Array.from(values).sort();
  return ps.map((p) => percentileSorted(sorted, p));
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
  redis?: string;
  loadGenerator: string;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loadGenerator: `autocannon ${(require('autocannon/package.json') as { version: string }).version}`,
  };
}

export function round(value: number, digits = 2): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Logs a progress line to stderr so the table on stdout stays clean. */
export function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}
