/**
 * Summarises a V8 CPU profile (from `node --cpu-prof`, e.g. `npm run bench -- --profile`):
 * self time by function and by package, and total (inclusive) time of the heaviest functions.
 *
 *   npx tsx bench/tools/profile-summary.ts <file.cpuprofile> [top=25] [filter]
 *
 * `filter` keeps only samples whose stack contains a frame matching it (a regular expression), e.g. `auth-push`.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function where(url: string): string {
  // Transpiled sources run by the benchmark (bench/lib/build.ts) are shown by their source path.
  const built = url.indexOf('/.cache/wxopen-bench/');
  if (built >= 0) return url.slice(built + '/.cache/wxopen-bench/'.length);
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return url;
  const src = url.indexOf('/src/');
  if (src >= 0) return url.slice(src + 1);
  const bench = url.indexOf('/bench/');
  if (bench >= 0) return url.slice(bench + 1);
  return url || '(native)';
}

function main(): void {
  const [file, topArg, filterArg] = process.argv.slice(2);
  if (!file) throw new Error('usage: profile-summary <file.cpuprofile> [top] [filter]');
  const top = Number(topArg ?? 25);
  const filter = filterArg ? new RegExp(filterArg) : undefined;
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const label = (n: ProfileNode) =>
    `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const pkg = new Map<string, number>();
  let all = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const node = byId.get(id)!;
    const name = node.callFrame.functionName;
    if (name === '(idle)' || name === '(program)') {
      if (name === '(idle)') idle += dt;
      return;
    }
    const stack: ProfileNode[] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) stack.push(byId.get(cur)!);
    if (filter && !stack.some((f) => filter.test(label(f)))) return;
    all += dt;
    self.set(label(node), (self.get(label(node)) ?? 0) + dt);
    const p = name === '(garbage collector)' ? '(gc)' : where(node.callFrame.url);
    pkg.set(p, (pkg.get(p) ?? 0) + dt);
    const seen = new Set<string>();
    for (const f of stack) {
      const l = label(f);
      if (seen.has(l)) continue;
      seen.add(l);
      total.set(l, (total.get(l) ?? 0) + dt);
    }
  });
  const ms = (us: number) => (us / 1000).toFixed(0).padStart(7);
  const pct = (us: number) => `${((100 * us) / all).toFixed(1).padStart(5)}%`;
  const wall = profile.endTime - profile.startTime;
  console.log(
    `${file}\nwall ${ms(wall)} ms, idle ${ms(idle)} ms, busy (counted) ${ms(all)} ms${filter ? ` (stacks matching ${filter})` : ''}\n`,
  );
  const show = (title: string, m: Map<string, number>, n: number) => {
    console.log(title);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`  ${ms(v)} ms ${pct(v)}  ${k}`);
    console.log('');
  };
  show('self time by package / file', pkg, top);
  show('self time by function', self, top);
  show('total (inclusive) time by function', total, top);
}

main();
