/** Cold starts measured in fresh processes: what a Lambda container's first init pays. */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface FreshColdStart {
  totalMs: number;
  cpuMs: number;
  loadMs: number;
  detectorMs: number;
  rules: number;
  errors: number;
  stale: boolean;
}

const CHILD = fileURLToPath(new URL('./coldstart-child.ts', import.meta.url));

/** Loads `rulesDir` and builds the Detector in a new node process (its first and only run). */
export function freshColdStart(rulesDir: string): FreshColdStart {
  const out = execFileSync(process.execPath, ['--import', 'tsx', CHILD, rulesDir], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  });
  return JSON.parse(out) as FreshColdStart;
}

/** The median of `runs` fresh processes, by total time. */
export function medianFreshColdStart(rulesDir: string, runs = 3): FreshColdStart {
  const all = Array.from({ length: runs }, () => freshColdStart(rulesDir)).sort((a, b) => a.totalMs - b.totalMs);
  return all[Math.floor(runs / 2)] as FreshColdStart;
}
