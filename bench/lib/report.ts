/**
 * Results: one table on stdout (figures, ratios, and PASS/FAIL next to each target) and
 * bench/results/latest.json. A missed target never fails the command: this is a benchmark, not a test.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, round, type MachineInfo } from './common';

export interface Row {
  name: string;
  reqPerSec?: number;
  p50?: number;
  p99?: number;
  errors?: number;
  /** Free text shown instead of (or after) the figures. */
  note?: string;
}

export interface Check {
  what: string;
  /** The measured value as shown, e.g. `0.42×` or `1 call`. */
  value: string;
  target: string;
  /** null = not measured (skipped). */
  pass: boolean | null;
}

export interface ScenarioResult {
  id: string;
  title: string;
  /** How it was measured, one line (rounds, duration, connections, sizes). */
  method: string;
  rows: Row[];
  checks: Check[];
  details?: Record<string, unknown>;
}

export interface BenchReport {
  mode: 'quick' | 'full';
  startedAt: string;
  durationS: number;
  machine: MachineInfo;
  scenarios: ScenarioResult[];
}

const fmt = (v: number | undefined, digits = 2) =>
  v === undefined || !Number.isFinite(v) ? '' : String(round(v, digits));

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

export function renderTable(report: BenchReport): string {
  const m = report.machine;
  const lines: string[] = [];
  lines.push(`wxopen-auth benchmark — ${report.mode} mode — ${report.startedAt}`);
  lines.push(
    `machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}, Redis ${m.redis ?? '?'}, ${m.loadGenerator}`,
  );
  for (const s of report.scenarios) {
    lines.push('');
    lines.push(`## ${s.title}`);
    lines.push(`   ${s.method}`);
    if (s.rows.some((r) => r.reqPerSec !== undefined || r.p50 !== undefined)) {
      lines.push(
        `   ${pad('', 44)} ${pad('req/s', 10, true)} ${pad('p50 ms', 9, true)} ${pad('p99 ms', 9, true)} ${pad('errors', 7, true)}`,
      );
    }
    for (const r of s.rows) {
      const figures =
        r.reqPerSec !== undefined || r.p50 !== undefined
          ? `${pad(fmt(r.reqPerSec, 0), 10, true)} ${pad(fmt(r.p50), 9, true)} ${pad(fmt(r.p99), 9, true)} ${pad(r.errors === undefined ? '' : String(r.errors), 7, true)}`
          : '';
      lines.push(`   ${pad(r.name, 44)} ${figures}${r.note ? `${figures ? '  ' : ''}${r.note}` : ''}`.trimEnd());
    }
    for (const c of s.checks) {
      const verdict = c.pass === null ? 'SKIP' : c.pass ? 'PASS' : 'FAIL';
      lines.push(`   ${pad(verdict, 4)}  ${pad(c.what, 48)} ${pad(c.value, 14, true)}   target ${c.target}`);
    }
  }
  lines.push('');
  const all = report.scenarios.flatMap((s) => s.checks);
  const count = (p: boolean | null) => all.filter((c) => c.pass === p).length;
  lines.push(
    `targets: ${count(true)} PASS, ${count(false)} FAIL, ${count(null)} SKIP — total ${Math.round(report.durationS)} s`,
  );
  return lines.join('\n');
}

export function writeReport(report: BenchReport, file = join(ROOT, 'bench', 'results', 'latest.json')): string {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

export function ratioCheck(what: string, ratio: number, min: number): Check {
  return {
    what,
    value: Number.isFinite(ratio) ? `${round(ratio, 2).toFixed(2)}×` : 'n/a',
    target: `≥ ${min.toFixed(2)}×`,
    pass: Number.isFinite(ratio) ? ratio >= min : null,
  };
}
