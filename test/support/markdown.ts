import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './spawn';

export interface FencedBlock {
  readonly lang: string;
  readonly code: string;
  /** The `<!-- … -->` comment right before the fence, if any (how a doc marks a block for its test). */
  readonly marker: string | undefined;
  /** 1-based line of the opening fence, for error messages. */
  readonly line: number;
}

/** The fenced code blocks of a markdown file of the repository, in order: tests run a doc's own commands. */
export function fencedBlocks(docPath: string, lang?: string): FencedBlock[] {
  const lines = readFileSync(join(ROOT, docPath), 'utf8').split('\n');
  const blocks: FencedBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    let j = start - 1;
    while (j >= 0 && lines[j]!.trim() === '') j--;
    const marker = j >= 0 ? /^<!--\s*(.*?)\s*-->$/.exec(lines[j]!.trim())?.[1] : undefined;
    blocks.push({ lang: open[1] ?? '', code: `${body.join('\n')}\n`, marker, line: start + 1 });
  }
  return lang === undefined ? blocks : blocks.filter((b) => b.lang === lang);
}
