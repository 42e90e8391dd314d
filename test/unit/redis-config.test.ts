import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { VALID_COMPONENT_ENV } from '../support/config';

const valid = VALID_COMPONENT_ENV;

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('config: Redis topologies', () => {
  it('defaults to one node at REDIS_URL, plain TCP, no ACL user', () => {
    expect(loadConfig(valid).redis).toEqual({
      url: 'redis://127.0.0.1:6379/0',
      keyPrefix: 'wxopen',
      topology: { kind: 'standalone', url: 'redis://127.0.0.1:6379/0' },
      username: undefined,
      password: undefined,
      tls: undefined,
      db: 0,
    });
  });

  it("reads Sentinel: the sentinels, the master group, the sentinels' and the master's credentials", () => {
    const redis = loadConfig({
      ...valid,
      REDIS_SENTINELS: 's1.internal:26379, 10.0.0.2:26380,[::1]:26381',
      REDIS_SENTINEL_NAME: 'wxopen',
      REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
      REDIS_USERNAME: 'wxopen-service',
      REDIS_PASSWORD: 'data-secret',
    }).redis;
    expect(redis.topology).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 's1.internal', port: 26379 },
        { host: '10.0.0.2', port: 26380 },
        { host: '::1', port: 26381 },
      ],
      name: 'wxopen',
      sentinelUsername: undefined,
      sentinelPassword: 'sentinel-secret',
    });
    expect(redis).toMatchObject({ username: 'wxopen-service', password: 'data-secret', tls: undefined });
  });

  it('reads Cluster seed nodes, with TLS when REDIS_TLS=true', () => {
    const redis = loadConfig({
      ...valid,
      REDIS_CLUSTER_NODES: '10.0.0.1:7000,10.0.0.2:7000',
      REDIS_TLS: 'true',
      REDIS_TLS_CA: PEM,
    }).redis;
    expect(redis.topology).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7000 },
      ],
    });
    expect(redis.tls).toEqual({ ca: PEM, cert: undefined, key: undefined, servername: undefined });
  });

  it('turns TLS on for rediss:// and reads the CA and client certificate from files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wxopen-config-tls-'));
    for (const name of ['ca.pem', 'client.pem', 'client.key']) writeFileSync(join(dir, name), PEM);
    const redis = loadConfig({
      ...valid,
      REDIS_URL: 'rediss://redis.internal:6380/0',
      REDIS_TLS_CA: join(dir, 'ca.pem'),
      REDIS_TLS_CERT: join(dir, 'client.pem'),
      REDIS_TLS_KEY: join(dir, 'client.key'),
      REDIS_TLS_SERVERNAME: 'redis.internal',
    }).redis;
    expect(redis.tls).toEqual({ ca: PEM, cert: PEM, key: PEM, servername: 'redis.internal' });
    expect(loadConfig({ ...valid, REDIS_URL: 'rediss://r:6380' }).redis.tls).toEqual({
      ca: undefined,
      cert: undefined,
      key: undefined,
      servername: undefined,
    });
  });

  it('refuses Sentinel and Cluster together, and either with an explicit REDIS_URL, one line each', () => {
    expect(
      problemsOf({ ...valid, REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_NAME: 'm', REDIS_CLUSTER_NODES: 'b:2' }),
    ).toEqual(['REDIS_SENTINELS: set either REDIS_SENTINELS (Sentinel) or REDIS_CLUSTER_NODES (Cluster), not both']);
    expect(problemsOf({ ...valid, REDIS_URL: 'redis://r:6379', REDIS_CLUSTER_NODES: 'b:2' })).toEqual([
      'REDIS_URL: set either REDIS_URL (single node) or REDIS_CLUSTER_NODES, not both',
    ]);
  });

  it('names each bad host:port', () => {
    expect(problemsOf({ ...valid, REDIS_CLUSTER_NODES: 'a:1,nocolon' })).toEqual([
      'REDIS_CLUSTER_NODES: "nocolon" is not host:port (port 1..65535)',
    ]);
    expect(problemsOf({ ...valid, REDIS_SENTINELS: 'a:70000', REDIS_SENTINEL_NAME: 'm' })).toEqual([
      'REDIS_SENTINELS: "a:70000" is not host:port (port 1..65535)',
    ]);
    expect(loadConfig({ ...valid, REDIS_CLUSTER_NODES: '' }).redis.topology.kind).toBe('standalone'); // empty = unset
  });

  it('requires the master group name with sentinels, and sentinel settings only with sentinels', () => {
    expect(problemsOf({ ...valid, REDIS_SENTINELS: 'a:1' })).toEqual([
      'REDIS_SENTINEL_NAME: is required with REDIS_SENTINELS (the master group name)',
    ]);
    expect(problemsOf({ ...valid, REDIS_SENTINEL_PASSWORD: 'x' })).toEqual([
      'REDIS_SENTINEL_PASSWORD: only applies with REDIS_SENTINELS',
    ]);
  });

  it('refuses TLS options while TLS is off, half a client certificate, and an unreadable file', () => {
    expect(problemsOf({ ...valid, REDIS_TLS_CA: PEM })).toEqual([
      'REDIS_TLS_CA: is set but TLS is off (REDIS_URL is not rediss://)',
    ]);
    expect(problemsOf({ ...valid, REDIS_TLS: 'true' })[0]).toMatch(
      /^REDIS_TLS: only applies with REDIS_SENTINELS or REDIS_CLUSTER_NODES/,
    );
    expect(problemsOf({ ...valid, REDIS_URL: 'rediss://r:6380', REDIS_TLS_CERT: PEM })).toEqual([
      'REDIS_TLS_KEY: is required with REDIS_TLS_CERT',
    ]);
    expect(problemsOf({ ...valid, REDIS_URL: 'rediss://r:6380', REDIS_TLS_CA: '/nonexistent/ca.pem' })).toEqual([
      'REDIS_TLS_CA: cannot read /nonexistent/ca.pem (ENOENT)',
    ]);
  });
});
