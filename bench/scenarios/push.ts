/**
 * Scenario 1 — Push: POST /auth with distinct, valid, encrypted component_verify_ticket pushes.
 * Baselines: bare node:http answering `success`; bare Express 5 with a text body parser; the naive tutorial
 * handler (body-parser-xml + xml2js + decrypt + ioredis SET). The service is src/main.ts, as deployed.
 */
import { PushPool } from '../lib/pushes';
import type { ScenarioResult } from '../lib/report';
import { BARE_EXPRESS, naiveExpress, runWeChatPostScenario } from '../lib/wechat-post-scenario';
import type { BenchContext } from '../run';

export function pushScenario(ctx: BenchContext): Promise<ScenarioResult> {
  return runWeChatPostScenario(ctx, {
    id: 'push',
    title: 'Push: POST /auth, distinct valid encrypted ticket pushes',
    noun: 'pushes',
    pool: new PushPool(),
    baselineMode: 'push',
    baselines: [
      {
        id: 'bare-http',
        name: 'bare node:http',
        ratioName: 'BareHttp',
        label: 'bare node:http → success',
        file: 'bench/servers/bare-http.ts',
      },
      BARE_EXPRESS,
      naiveExpress('SET'),
    ],
    noteAgainst: 'bare-http',
    serviceLabel: 'wxopen-auth POST /auth',
    dedupPattern: 'push:*',
    targets: [
      { what: 'service / bare Express', against: 'bare-express', min: 0.8 },
      { what: 'service / naive Express handler', against: 'naive', min: 1.3 },
    ],
    methodNote: 'service LOG_LEVEL=info to /dev/null',
  });
}
