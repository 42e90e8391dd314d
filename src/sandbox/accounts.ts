/**
 * The fake Official Accounts and Mini Programs the emulator lets an admin authorize.
 * Field meanings follow api_get_authorizer_info (shared/docs/protocol.md §4.5).
 */
import { RELEASE_TEST_ACCOUNTS } from '../wechat/release-test';

export interface FakeAccount {
  appid: string;
  /** Original id, `gh_…`. */
  userName: string;
  nickName: string;
  kind: 'official_account' | 'mini_program';
  /** Official Accounts: 0 subscription, 1 upgraded old subscription, 2 service account. Mini Programs: 0. */
  serviceType: number;
  /** -1 unverified, 0 WeChat-verified, other values partial states. */
  verifyType: number;
  principalName: string;
  /** Permission-set ids (func_info funcscope_category.id) the account grants. */
  funcInfo: number[];
}

const OA_FUNCS = [1, 2, 3, 4, 6, 7, 11, 15];
const MP_FUNCS = [17, 18, 19, 25, 30, 31, 36, 37, 40];

/** WeChat's own release-test accounts (protocol.md §7), as the emulator's fake accounts. */
export function releaseTestFakeAccounts(): FakeAccount[] {
  return RELEASE_TEST_ACCOUNTS.map((a) => ({
    appid: a.appid,
    userName: a.userName,
    nickName: `${a.kind === 'official_account' ? '全网发布测试公众号' : '全网发布测试小程序'} ${a.group}`,
    kind: a.kind,
    serviceType: a.kind === 'official_account' ? 2 : 0,
    verifyType: 0,
    principalName: '微信全网发布测试',
    funcInfo: a.kind === 'official_account' ? OA_FUNCS : MP_FUNCS,
  }));
}

const demo: FakeAccount[] = [
  {
    appid: 'wx3c5a7e19b2d40f81',
    userName: 'gh_7e2b94c1d0a3',
    nickName: '湖畔咖啡',
    kind: 'official_account',
    serviceType: 2,
    verifyType: 0,
    principalName: '杭州湖畔咖啡有限公司',
    funcInfo: OA_FUNCS,
  },
  {
    appid: 'wx8d21f0a6c4e97b35',
    userName: 'gh_4a90c3e5b17f',
    nickName: '城市骑行周刊',
    kind: 'official_account',
    serviceType: 0,
    verifyType: 0,
    principalName: '上海轮转文化传媒有限公司',
    funcInfo: [1, 2, 3, 7, 15],
  },
  {
    appid: 'wx52e07b9d13fa6c40',
    userName: 'gh_c18d2f6a09e4',
    nickName: '晨读小记',
    kind: 'official_account',
    serviceType: 0,
    verifyType: -1,
    principalName: '个人',
    funcInfo: [1, 15],
  },
  {
    appid: 'wx6f4b1c8e20d7a953',
    userName: 'gh_2d6e8a4f1b90',
    nickName: '湖畔咖啡点单',
    kind: 'mini_program',
    serviceType: 0,
    verifyType: 0,
    principalName: '杭州湖畔咖啡有限公司',
    funcInfo: MP_FUNCS,
  },
  {
    appid: 'wx91a3d5c7e6b20f48',
    userName: 'gh_5f03b7d2c9a1',
    nickName: '社区团购助手',
    kind: 'mini_program',
    serviceType: 0,
    verifyType: 0,
    principalName: '成都邻里优选科技有限公司',
    funcInfo: [17, 18, 19, 25, 31],
  },
  {
    appid: 'wxb07e2a9f4c1d6835',
    userName: 'gh_9b1c4e7a3d58',
    nickName: '骑行路书',
    kind: 'mini_program',
    serviceType: 0,
    verifyType: -1,
    principalName: '个人',
    funcInfo: [17, 18],
  },
];

/** Enough variety (both kinds, verified and not, company and personal) to exercise every listing filter. Frozen:
 * several emulators share them. */
export const DEMO_ACCOUNTS: readonly FakeAccount[] = Object.freeze(
  demo.map((account) => Object.freeze({ ...account, funcInfo: Object.freeze([...account.funcInfo]) as number[] })),
);

/**
 * `n` deterministic accounts for load tests, alternating kinds. The permission arrays are shared (and frozen) so
 * 100 000 accounts cost little more than their strings.
 */
export function generateAccounts(n: number): FakeAccount[] {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('n must be a non-negative integer');
  const oaFuncs = Object.freeze([...OA_FUNCS]) as number[];
  const mpFuncs = Object.freeze([...MP_FUNCS]) as number[];
  const accounts = new Array<FakeAccount>(n);
  for (let i = 0; i < n; i++) {
    const hex = i.toString(16);
    const official = i % 2 === 0;
    accounts[i] = {
      // A fixed `5b` lead keeps generated ids apart from the demo accounts.
      appid: `wx5b${hex.padStart(14, '0')}`,
      userName: `gh_${hex.padStart(12, '0')}`,
      nickName: `${official ? '测试公众号' : '测试小程序'} ${i + 1}`,
      kind: official ? 'official_account' : 'mini_program',
      serviceType: official ? i % 3 : 0,
      verifyType: i % 5 === 4 ? -1 : 0,
      principalName: `测试主体 ${i + 1}`,
      funcInfo: official ? oaFuncs : mpFuncs,
    };
  }
  return accounts;
}

/** Lookup by appid in O(1); listing order is the configured order. */
export class AccountDirectory {
  private readonly byAppid = new Map<string, FakeAccount>();

  /** `unlisted`: reachable by appid but never listed (WeChat's release-test accounts, pre-authorized by WeChat). */
  constructor(
    private readonly list: readonly FakeAccount[],
    unlisted: readonly FakeAccount[] = [],
  ) {
    for (const account of [...list, ...unlisted]) {
      if (typeof account?.appid !== 'string' || account.appid === '')
        throw new TypeError('every account needs an appid');
      if (account.kind !== 'official_account' && account.kind !== 'mini_program') {
        throw new TypeError(`account ${account.appid}: kind must be official_account or mini_program`);
      }
      if (this.byAppid.has(account.appid)) throw new TypeError(`duplicate account appid ${account.appid}`);
      this.byAppid.set(account.appid, account);
    }
  }

  get size(): number {
    return this.list.length;
  }

  get(appid: string): FakeAccount | undefined {
    return this.byAppid.get(appid);
  }

  all(): readonly FakeAccount[] {
    return this.list;
  }

  /** The first `limit` accounts accepted by `keep`; stops early so a page over 100 000 accounts stays cheap. */
  firstMatching(keep: (account: FakeAccount) => boolean, limit: number): FakeAccount[] {
    const found: FakeAccount[] = [];
    for (const account of this.list) {
      if (found.length >= limit) break;
      if (keep(account)) found.push(account);
    }
    return found;
  }
}
