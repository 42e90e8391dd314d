/**
 * Scenario — Message URL: POST /:appid/callback with distinct valid encrypted user text messages.
 * Baselines: bare Express 5 with a text body parser answering `success`; the naive tutorial handler
 * (body-parser-xml + xml2js + decrypt + XADD, no de-duplication). The service does more than the naive one
 * (signature in constant time, strict XML, de-duplication across replicas, the stream append), and its target is
 * still ≥ 1.0× the naive handler.
 */
import { MessagePool } from '../lib/messages';
import type { ScenarioResult } from '../lib/report';
import { BARE_EXPRESS, naiveExpress, runWeChatPostScenario } from '../lib/wechat-post-scenario';
import type { BenchContext } from '../run';

export function messageScenario(ctx: BenchContext): Promise<ScenarioResult> {
  return runWeChatPostScenario(ctx, {
    id: 'message',
    title: 'Message URL: POST /:appid/callback, distinct valid encrypted text messages',
    noun: 'messages',
    pool: new MessagePool(),
    baselineMode: 'message',
    baselines: [BARE_EXPRESS, naiveExpress('XADD')],
    noteAgainst: 'bare-express',
    serviceLabel: 'wxopen-auth POST /:appid/callback',
    dedupPattern: 'message_dedup:*',
    targets: [{ what: 'service / naive Express handler', against: 'naive', min: 1.0 }],
    details: async (redis, keys) => ({ streamEntries: await redis.xlen(keys.messages) }),
  });
}
