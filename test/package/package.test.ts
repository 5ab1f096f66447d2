/**
 * The package as a user gets it (issue #11, item 23): built from the current sources, packed
 * with `npm pack`, installed from the tarball into an empty project, then used only through its
 * documented entry points — `import … from 'stixflow'` and the `stixflow` command. The install
 * takes the dependencies from the npm cache where it can (`--prefer-offline`: only the registry's
 * package metadata may be fetched). Slow (a build, a pack and an install): one setup for all.
 */
import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../infra/bundling.js';

const exec = promisify(execFile);
const SETUP_TIMEOUT_MS = 10 * 60_000;
const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
/** What is never part of a package's sources: the copy to pack from leaves these out. */
const NOT_SOURCES = new Set(['node_modules', 'dist', '.git', 'cdk.out', 'coverage']);

let work: string;
let consumer: string;
let installed: string;

async function run(command: string, args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  return exec(command, args, {
    cwd,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' },
  });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'stixflow-package-'));
  // Pack from a copy built here, so that the worktree's own dist/ (which other tests run) is left alone.
  const stage = join(work, 'stage');
  cpSync(REPO_ROOT, stage, {
    recursive: true,
    filter: (source) =>
      relative(REPO_ROOT, source).split(/[\\/]/)[0] === '' ||
      !NOT_SOURCES.has(relative(REPO_ROOT, source).split(/[\\/]/)[0] as string),
  });
  await run(process.execPath, [TSC, '-p', 'tsconfig.build.json', '--outDir', join(stage, 'dist')], REPO_ROOT);
  const packed = JSON.parse(
    (await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], stage)).stdout,
  ) as { filename: string }[];
  const tarball = join(work, packed[0]?.filename as string);

  consumer = join(work, 'consumer');
  mkdirSync(consumer);
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify({ name: 'stixflow-consumer', version: '1.0.0', private: true, type: 'module' }),
  );
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], consumer);
  installed = join(consumer, 'node_modules', 'stixflow');
}, SETUP_TIMEOUT_MS);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The first ```js block of docs/library.md: the documented way to run a detector. */
function documentedExample(): string {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'library.md'), 'utf8');
  const block = /```js\n([\s\S]*?)```/.exec(doc)?.[1];
  if (!block) throw new Error('docs/library.md has no ```js example');
  return block;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('the packed stixflow package, installed from its tarball', () => {
  it('runs the documented example: a Detector with in-memory state and a memory sink raises the sequence alert', async () => {
    writeFileSync(join(consumer, 'example.mjs'), documentedExample());
    const { stdout } = await run(process.execPath, ['example.mjs'], consumer);
    expect(stdout.trim()).toBe('alerts: 1, queued: shell-then-callback');
  });

  it('exports the documented API from the package root, with TypeScript types for the ports', async () => {
    const probe = `import * as stixflow from 'stixflow';
const names = ['Detector', 'loadRules', 'loadRulesFromPaths', 'createRule', 'InMemoryStateStore', 'DynamoDbStateStore', 'InMemoryCounterStore', 'DynamoDbCounterStore', 'InMemoryQueue', 'SqsMessageSink', 'SqsMessageSource', 'createNormaliser', 'loadMapping', 'compilePattern', 'checkPattern', 'toAlertDocument'];
console.log(JSON.stringify(names.filter((name) => typeof stixflow[name] !== 'function')));
`;
    writeFileSync(join(consumer, 'exports.mjs'), probe);
    expect(JSON.parse((await run(process.execPath, ['exports.mjs'], consumer)).stdout)).toEqual([]);

    const typed = `import { Detector, InMemoryQueue, InMemoryStateStore, compilePattern, createNormaliser, type MessageSink, type MessageSource, type Rule, type StateStore, type CounterStore, InMemoryCounterStore } from 'stixflow';
const store: StateStore = new InMemoryStateStore();
const queue: MessageSink & MessageSource = new InMemoryQueue();
const counters: CounterStore = new InMemoryCounterStore();
const rules: Rule[] = [];
export const detector = new Detector({ rules, store, sink: queue, counters, normaliser: createNormaliser() });
export const matched: boolean = compilePattern("[process:name = 'bash']").match([]).matched;
`;
    writeFileSync(join(consumer, 'typed.ts'), typed);
    const typeRoots = join(REPO_ROOT, 'node_modules', '@types');
    const check = run(
      process.execPath,
      [
        TSC,
        '--noEmit',
        '--strict',
        '--skipLibCheck',
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--target',
        'es2022',
        '--types',
        'node',
        '--typeRoots',
        typeRoots,
        'typed.ts',
      ],
      consumer,
    );
    await expect(check).resolves.toBeDefined();
  });

  it('ships every file its modules import, and imports no package it does not depend on', () => {
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const dependencies = new Set(Object.keys(manifest.dependencies));
    const builtins = new Set(builtinModules);
    const problems: string[] = [];
    const modules = filesUnder(installed).filter(
      (f) => /\.(js|d\.ts)$/.test(f) && !f.includes(`${join(installed, 'node_modules')}`),
    );
    expect(modules.length).toBeGreaterThan(50);
    for (const file of modules) {
      // TypeScript's own scanner: imports and re-exports, static and dynamic, not comments or strings.
      for (const { fileName: specifier } of ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles) {
        const where = `${relative(installed, file)} imports '${specifier}'`;
        if (specifier.startsWith('.')) {
          const target = resolve(dirname(file), specifier);
          const candidates = file.endsWith('.d.ts') ? [target, target.replace(/\.js$/, '.d.ts')] : [target];
          if (!candidates.some((c) => existsSync(c) && statSync(c).isFile()))
            problems.push(`${where}, which is not in the package`);
        } else if (!specifier.startsWith('node:') && !builtins.has(specifier)) {
          const name = specifier.startsWith('@')
            ? specifier.split('/').slice(0, 2).join('/')
            : (specifier.split('/')[0] as string);
          if (!dependencies.has(name)) problems.push(`${where}, which is not among its dependencies`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(existsSync(join(installed, 'dist', 'src', 'local'))).toBe(false);
    expect(existsSync(join(installed, 'dist', 'src', 'emulators'))).toBe(false);
  });

  it('installs the stixflow command: it validates a pattern and stops quietly when piped to head', async () => {
    const bin = join(consumer, 'node_modules', '.bin', 'stixflow');
    const { stdout } = await run(bin, ['validate', "[process:name = 'bash']"], consumer);
    expect(stdout).toContain('1 valid, 0 invalid');
    const piped = await run(
      'bash',
      [
        '-c',
        `"${bin}" emit "[process:name = 'a']" -n 5000 2>stderr.txt | head -1 >/dev/null; echo "\${PIPESTATUS[0]}"`,
      ],
      consumer,
    );
    expect(piped.stdout.trim()).toBe('0');
    expect(readFileSync(join(consumer, 'stderr.txt'), 'utf8')).toBe('');
  });
});
