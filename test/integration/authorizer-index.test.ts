import { systemClock } from '../../src/clock';
import { createKeys } from '../../src/store/keys';
import { RedisAuthorizerStore } from '../../src/store/redis-authorizer-store';
import { newTestRedis, uniquePrefix } from '../support/redis';

/** Redis-only parts of the console's listing index (the shared behaviour is in store-contract.test.ts). */
describe('authorizer listing index (Redis)', () => {
  const redis = newTestRedis();
  afterAll(() => redis.quit());

  it('takes in accounts stored before it existed, with their names, once', async () => {
    const keys = createKeys(uniquePrefix('index'), 'wxcomponent');
    // What an older version wrote: the hash and its schedule shard's index entry, no listing entry.
    await redis.hset(keys.authorizer('wxold0001'), { status: 'authorized', func_info: '[]', nick_name: '老账号' });
    await redis.hset(keys.authorizer('wxold0002'), { status: 'unauthorized', func_info: '[]' });
    await redis.hset(keys.authorizerShardIndex(keys.scheduleShardOf('wxold0001')), 'wxold0001', '1|authorized');
    await redis.hset(keys.authorizerShardIndex(keys.scheduleShardOf('wxold0002')), 'wxold0002', '1|unauthorized');
    const store = new RedisAuthorizerStore(redis, keys, systemClock);
    await store.saveAuthorization({ appid: 'wxnew0001', funcInfo: [], authorizedAt: 1 });
    expect((await store.search({ text: '老账号', offset: 0, limit: 10 })).records.map((r) => r.appid)).toEqual([
      'wxold0001',
    ]);
    const all = await store.search({ offset: 0, limit: 10 });
    expect(all.total).toBe(3);
    expect(all.records.map((r) => r.appid)).toEqual(['wxnew0001', 'wxold0001', 'wxold0002']);
    expect(await redis.zcard(keys.authorizerIndex)).toBe(3);
  });

  it('treats glob characters in a search as text, and keeps one entry per account across renames', async () => {
    const keys = createKeys(uniquePrefix('index'), 'wxcomponent');
    const store = new RedisAuthorizerStore(redis, keys, systemClock);
    for (const appid of ['wxglob0001', 'wxglob0002'])
      await store.saveAuthorization({ appid, funcInfo: [], authorizedAt: 1 });
    await store.saveAccountInfo('wxglob0001', { nickName: 'a*b [shop]?' });
    await store.saveAccountInfo('wxglob0002', { nickName: 'aXb shop' });
    const find = async (text: string) =>
      (await store.search({ text, offset: 0, limit: 10 })).records.map((r) => r.appid);
    expect(await find('a*b')).toEqual(['wxglob0001']);
    expect(await find('[shop]?')).toEqual(['wxglob0001']);
    expect(await find('shop')).toEqual(['wxglob0001', 'wxglob0002']);
    await store.saveAccountInfo('wxglob0002', { nickName: 'renamed' });
    await store.markUnauthorized('wxglob0002');
    expect(await find('shop')).toEqual(['wxglob0001']);
    expect(await find('renamed')).toEqual(['wxglob0002']);
    expect(await redis.zcard(keys.authorizerIndex)).toBe(2);
  });
});
