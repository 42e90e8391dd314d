import { join } from 'node:path';
import { Eta } from 'eta';

/** Server-rendered pages (views/*.eta): no front-end build, usable without JavaScript. */
export interface Views {
  render(name: 'authorize' | 'authorized' | 'error', data: Record<string, unknown>): string;
}

export function createViews(platformName: string): Views {
  const eta = new Eta({
    views: join(__dirname, '..', 'views'),
    autoEscape: true,
    cache: true,
  });
  return {
    render: (name, data) => eta.render(`./${name}`, { platformName, ...data }),
  };
}
