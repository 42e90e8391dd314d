import { ManualClock } from '../../src/clock';
import type { Config } from '../../src/config';
import { createContainer, type Container, type ContainerOverrides } from '../../src/container';
import { createEmulator, type Emulator } from '../../src/sandbox/emulator';
import type { EmulatorOptions } from '../../src/sandbox/options';
import { waitUntilReady } from '../../src/store/redis';
import { TEST_COMPONENT, testConfig } from './config';

export interface HarnessOptions {
  /** Shared by the emulator and the service; a fresh ManualClock when omitted. */
  clock?: ManualClock;
  /** Environment overrides for the service's config (WECHAT_API_BASE_URL is set to the emulator). */
  env?: Record<string, string | undefined>;
  /** Emulator options beyond the test component's credentials (no pushUrl, no periodic pushes by default). */
  emulator?: Partial<EmulatorOptions>;
  container?: Omit<ContainerOverrides, 'clock'>;
  /** Store a ticket the emulator issued, so the component token can be fetched (default true). */
  withTicket?: boolean;
}

export interface Harness {
  emulator: Emulator;
  emulatorUrl: string;
  container: Container;
  config: Config;
  clock: ManualClock;
  /** Issues a ticket in the emulator and stores it the way the push handler would. */
  seedTicket(): Promise<string>;
  /** Authorizes a fake account in the emulator (no push) and exchanges its code through the token service. */
  authorize(appid: string): Promise<void>;
  close(): Promise<void>;
}

/** An emulator on a free port plus a service container pointed at it, over real HTTP and a real Redis. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const clock = options.clock ?? new ManualClock();
  const emulator = createEmulator({
    componentAppId: TEST_COMPONENT.appId,
    componentAppSecret: TEST_COMPONENT.appSecret,
    token: TEST_COMPONENT.token,
    encodingAesKey: TEST_COMPONENT.aesKey,
    ticketIntervalMs: 0,
    ...options.emulator,
    clock,
  });
  const emulatorUrl = await emulator.listen(0, '127.0.0.1');
  const config = testConfig({
    WECHAT_API_BASE_URL: emulatorUrl,
    WECHAT_LOGIN_PAGE_URL: `${emulatorUrl}/cgi-bin/componentloginpage`,
    WECHAT_MOBILE_LOGIN_PAGE_URL: `${emulatorUrl}/wxaopen/safe/bindcomponent`,
    ...options.env,
  });
  const container = createContainer(config, { ...options.container, clock });
  if (!(await waitUntilReady(container.redis, 5000))) throw new Error('test Redis is not reachable');

  const seedTicket = async () => {
    await emulator.pushTicket(); // without a push URL the ticket is only issued
    const ticket = emulator.currentTicket();
    if (!ticket) throw new Error('the emulator issued no ticket');
    await container.ticketStore.save(ticket, clock.now());
    return ticket;
  };
  if (options.withTicket ?? true) await seedTicket();

  return {
    emulator,
    emulatorUrl,
    container,
    config,
    clock,
    seedTicket,
    async authorize(appid) {
      const { authCode } = await emulator.authorize(appid, { push: false });
      await container.authorizationService.exchangeAuthCode(authCode);
    },
    async close() {
      await container.close();
      await emulator.close();
    },
  };
}
