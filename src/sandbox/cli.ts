/**
 * Runs the WeChat emulator on its own: `node dist/sandbox/cli.js [flags]` (or `npx tsx src/sandbox/cli.ts`).
 * Flags win over environment variables, which win over demo defaults; the credential variables are the service's
 * own names, so one .env configures both sides. See docs/sandbox.md.
 */
import { parseArgs } from 'node:util';
import { ManualClock } from '../clock';
import { createEmulator, generateAccounts, type Emulator } from './emulator';

export const DEMO_CREDENTIALS = {
  componentAppId: 'wxa5b0c1d2e3f40718',
  componentAppSecret: 'sandbox_demo_component_appsecret',
  token: 'sandboxtoken',
  encodingAesKey: 'SandboxDemoEncodingAesKey0123456789abcdefgh',
} as const;

const HELP = `Usage: node dist/sandbox/cli.js [options]

  --port <n>                 listen port (SANDBOX_PORT, default 3100)
  --host <addr>              listen address (SANDBOX_HOST, default 127.0.0.1)
  --push-url <url>           the service's POST /auth URL (SANDBOX_PUSH_URL, default: no pushes)
  --registered-domain <host> 授权发起页域名 checked against Referer and redirect_uri
                             (SANDBOX_REGISTERED_DOMAIN, default localhost; "" turns the checks off)
  --ticket-interval-ms <n>   ticket push interval (SANDBOX_TICKET_INTERVAL_MS, default 600000; 0 = off)
  --accounts <n>             serve n generated accounts instead of the demo ones (SANDBOX_ACCOUNTS)
  --component-appid <id>     (WECHAT_COMPONENT_APPID, default ${DEMO_CREDENTIALS.componentAppId})
  --component-secret <s>     (WECHAT_COMPONENT_APPSECRET, default ${DEMO_CREDENTIALS.componentAppSecret})
  --token <t>                (WECHAT_COMPONENT_TOKEN, default ${DEMO_CREDENTIALS.token})
  --aes-key <k>              43 characters (WECHAT_COMPONENT_AES_KEY, default ${DEMO_CREDENTIALS.encodingAesKey})
  --help
`;

function integer(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<Emulator | undefined> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'push-url': { type: 'string' },
      'registered-domain': { type: 'string' },
      'ticket-interval-ms': { type: 'string' },
      accounts: { type: 'string' },
      'component-appid': { type: 'string' },
      'component-secret': { type: 'string' },
      token: { type: 'string' },
      'aes-key': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return undefined;
  }
  const domain = values['registered-domain'] ?? env.SANDBOX_REGISTERED_DOMAIN ?? 'localhost';
  const accountCount = values.accounts ?? env.SANDBOX_ACCOUNTS;
  const emulator = createEmulator({
    componentAppId: values['component-appid'] ?? env.WECHAT_COMPONENT_APPID ?? DEMO_CREDENTIALS.componentAppId,
    componentAppSecret:
      values['component-secret'] ?? env.WECHAT_COMPONENT_APPSECRET ?? DEMO_CREDENTIALS.componentAppSecret,
    token: values.token ?? env.WECHAT_COMPONENT_TOKEN ?? DEMO_CREDENTIALS.token,
    encodingAesKey: values['aes-key'] ?? env.WECHAT_COMPONENT_AES_KEY ?? DEMO_CREDENTIALS.encodingAesKey,
    pushUrl: values['push-url'] ?? (env.SANDBOX_PUSH_URL || undefined),
    registeredDomain: domain === '' ? undefined : domain,
    ticketIntervalMs: integer(
      'ticket interval',
      values['ticket-interval-ms'] ?? env.SANDBOX_TICKET_INTERVAL_MS,
      600_000,
    ),
    // A manual clock that starts at real time: curl users can then move it with POST /sandbox/clock/advance.
    clock: new ManualClock(),
    ...(accountCount ? { accounts: generateAccounts(integer('accounts', accountCount, 0)) } : {}),
  });
  const port = integer('port', values.port ?? env.SANDBOX_PORT, 3100);
  const base = await emulator.listen(port, values.host ?? env.SANDBOX_HOST ?? '127.0.0.1');
  process.stdout.write(
    `WeChat emulator listening on ${base}\n` +
      `  component API   ${base}/cgi-bin/component/\n` +
      `  login page      ${base}/cgi-bin/componentloginpage\n` +
      `  control API     ${base}/sandbox/\n` +
      `  pushes to       ${values['push-url'] ?? (env.SANDBOX_PUSH_URL || '(nothing: set --push-url)')}\n`,
  );
  return emulator;
}

if (require.main === module) {
  main(process.argv.slice(2), process.env).then(
    (emulator) => {
      if (!emulator) return;
      const stop = (): void => {
        void emulator.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (err: unknown) => {
      process.stderr.write(`sandbox: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
