/**
 * Names of the emulated WeChat API endpoints: the last path segment, as used by fault switches, quotas and the
 * call log. `clear_quota_v2` stands for `/cgi-bin/component/clear_quota/v2`, whose last segment (`v2`) says nothing,
 * and `custom_send` for `/cgi-bin/message/custom/send` (the customer-service message API).
 */
export const ENDPOINTS = [
  'api_component_token',
  'api_create_preauthcode',
  'api_query_auth',
  'api_authorizer_token',
  'api_get_authorizer_info',
  'api_get_authorizer_list',
  'api_get_authorizer_option',
  'api_set_authorizer_option',
  'get_authorizer_option',
  'set_authorizer_option',
  'api_start_push_ticket',
  'clear_quota',
  'clear_quota_v2',
  'custom_send',
] as const;

export type Endpoint = (typeof ENDPOINTS)[number];

const KNOWN: ReadonlySet<string> = new Set(ENDPOINTS);

export function isEndpoint(name: unknown): name is Endpoint {
  return typeof name === 'string' && KNOWN.has(name);
}

export function assertEndpoint(name: unknown): Endpoint {
  if (!isEndpoint(name)) {
    throw new RangeError(`unknown endpoint ${JSON.stringify(name)}; expected one of ${ENDPOINTS.join(', ')}`);
  }
  return name;
}
