/**
 * Seeding helper process: exchanges authorization codes with the emulator's api_query_auth over HTTP and sends
 * back what WeChat hands out (refresh token, first access token). It runs in its own process so that, while
 * 100 000 accounts are seeded, the HTTP client uses one core and the emulator (in the runner) the other.
 *
 * IPC in:  { url, componentToken, componentAppId, codes: [appid, code][], concurrency }
 * IPC out: { ok: true, accounts: AuthorizedAccount[] } | { ok: false, error }
 */
import http from 'node:http';

interface ExchangeRequest {
  url: string;
  componentToken: string;
  componentAppId: string;
  codes: Array<[string, string]>;
  concurrency: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function postJson(url: string, body: unknown): Promise<Record<string, unknown>> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          try {
            const json = JSON.parse(text) as Record<string, unknown>;
            if (typeof json.errcode === 'number' && json.errcode !== 0)
              reject(new Error(`errcode ${json.errcode} ${String(json.errmsg)}`));
            else resolve(json);
          } catch (err) {
            reject(err);
          }
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function exchange(msg: ExchangeRequest): Promise<unknown[]> {
  const out: unknown[] = new Array(msg.codes.length);
  const endpoint = `${msg.url}/cgi-bin/component/api_query_auth?component_access_token=${msg.componentToken}`;
  let next = 0;
  const worker = async () => {
    while (next < msg.codes.length) {
      const i = next++;
      const [appid, code] = msg.codes[i]!;
      const answer = await postJson(endpoint, { component_appid: msg.componentAppId, authorization_code: code });
      const info = answer.authorization_info as Record<string, unknown>;
      out[i] = {
        appid,
        refreshToken: info.authorizer_refresh_token,
        accessToken: info.authorizer_access_token,
        expiresIn: info.expires_in,
        funcInfo: info.func_info,
      };
    }
  };
  await Promise.all(Array.from({ length: Math.min(msg.concurrency, msg.codes.length) }, worker));
  return out;
}

process.on('message', (msg: ExchangeRequest) => {
  exchange(msg).then(
    (accounts) => process.send?.({ ok: true, accounts }, () => process.exit(0)),
    (err: unknown) => process.send?.({ ok: false, error: (err as Error).message }, () => process.exit(1)),
  );
});
