/**
 * Permission sets (权限集) by the `funcscope_category.id` of `func_info` (shared/docs/protocol.md §4.3),
 * named as WeChat's third-party-platform docs name them (授权给开发者的权限集列表; ids 1–26 are listed
 * there, 30/31/36/37/40 come from WeChat's answers in its developer community). The only table of them:
 * pages show these names, never bare ids. WeChat adds sets over time, so an id missing here is shown as
 * "权限集 N" / "permission set N" (see permissionSetName).
 */
export interface PermissionSetName {
  readonly 'zh-CN': string;
  readonly en: string;
}

const PERMISSION_SETS: ReadonlyMap<number, PermissionSetName> = new Map([
  [1, { 'zh-CN': '消息管理权限', en: 'Message management' }],
  [2, { 'zh-CN': '用户管理权限', en: 'User management' }],
  [3, { 'zh-CN': '帐号服务权限', en: 'Account services' }],
  [4, { 'zh-CN': '网页服务权限', en: 'Web page services' }],
  [5, { 'zh-CN': '微信小店权限', en: 'WeChat Store' }],
  [6, { 'zh-CN': '微信多客服权限', en: 'Multi-agent customer service' }],
  [7, { 'zh-CN': '群发与通知权限', en: 'Mass messages and notifications' }],
  [8, { 'zh-CN': '微信卡券权限', en: 'WeChat cards and coupons' }],
  [9, { 'zh-CN': '微信扫一扫权限', en: 'WeChat Scan' }],
  [10, { 'zh-CN': '微信连WIFI权限', en: 'WeChat Wi-Fi' }],
  [11, { 'zh-CN': '素材管理权限', en: 'Media management' }],
  [12, { 'zh-CN': '微信摇周边权限', en: 'WeChat Shake Nearby' }],
  [13, { 'zh-CN': '微信门店权限', en: 'WeChat stores' }],
  [14, { 'zh-CN': '微信支付权限', en: 'WeChat Pay' }],
  [15, { 'zh-CN': '自定义菜单权限', en: 'Custom menu' }],
  [16, { 'zh-CN': '获取认证状态及信息', en: 'Verification status and details' }],
  [17, { 'zh-CN': '帐号管理权限（小程序）', en: 'Account management (Mini Program)' }],
  [18, { 'zh-CN': '开发管理与数据分析权限（小程序）', en: 'Development management and data analysis (Mini Program)' }],
  [19, { 'zh-CN': '客服消息管理权限（小程序）', en: 'Customer service messages (Mini Program)' }],
  [20, { 'zh-CN': '微信登录权限（小程序）', en: 'WeChat login (Mini Program)' }],
  [21, { 'zh-CN': '数据分析权限（小程序）', en: 'Data analysis (Mini Program)' }],
  [22, { 'zh-CN': '城市服务接口权限', en: 'City services' }],
  [23, { 'zh-CN': '广告管理权限', en: 'Advertising management' }],
  [24, { 'zh-CN': '开放平台帐号管理权限', en: 'Open Platform account management' }],
  [25, { 'zh-CN': '开放平台帐号管理权限（小程序）', en: 'Open Platform account management (Mini Program)' }],
  [26, { 'zh-CN': '微信电子发票权限', en: 'WeChat e-invoices' }],
  [30, { 'zh-CN': '小程序基本信息设置权限', en: 'Mini Program basic settings' }],
  [31, { 'zh-CN': '小程序认证权限', en: 'Mini Program verification' }],
  [36, { 'zh-CN': '附近的小程序权限', en: 'Nearby Mini Programs' }],
  [37, { 'zh-CN': '卡路里权限', en: 'Calories' }],
  [40, { 'zh-CN': '插件管理权限', en: 'Plugin management' }],
]);

export type PermissionSetLocale = keyof PermissionSetName;

/** The name of a permission set in a locale; an id WeChat added after this table gets a generic name with its id. */
export function permissionSetName(id: number, locale: PermissionSetLocale): string {
  const known = PERMISSION_SETS.get(id);
  if (known) return known[locale];
  return locale === 'zh-CN' ? `权限集 ${id}` : `Permission set ${id}`;
}

/** The permission-set ids of a stored func_info (`[{ funcscope_category: { id } }, …]`), in WeChat's order. */
export function permissionSetIds(funcInfo: ReadonlyArray<Readonly<Record<string, unknown>>>): number[] {
  const ids: number[] = [];
  for (const item of funcInfo) {
    const id = (item.funcscope_category as { id?: unknown } | undefined)?.id;
    if (typeof id === 'number' && Number.isInteger(id)) ids.push(id);
  }
  return ids;
}
