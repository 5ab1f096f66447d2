import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../functions/config.js';
import { MessageFailure } from '../functions/ingest-sqs.js';
import { OutputClosedError } from '../src/cli/io.js';
import { InputError, MatchError, PatternError, StixflowBaseError, StixflowError } from '../src/errors.js';
import { GenerationError } from '../src/generate/analysis.js';
import { EmulatorError } from '../src/emulators/emulators.js';
import { parseLocalTokens } from '../src/local/server.js';
import { TargetPathError, parseTargetPath } from '../src/normalise/target-path.js';
import { QueueAckError, QueueConfigError, QueueServiceError } from '../src/queue/errors.js';
import {
  CounterFlushError,
  InvalidCounterError,
  InvalidStateKeyError,
  InvalidStateWriteError,
  StateStoreError,
} from '../src/state/errors.js';
import { stateTableKey } from '../src/state/table-schema.js';
import { testRuntime } from './functions/helpers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.parentPath.includes('generated'))
    .map((entry) => join(entry.parentPath, entry.name));
}

describe('one root for every project error', () => {
  it('no class outside src/errors.ts extends a built-in error directly', () => {
    const direct: string[] = [];
    // The console's browser code (src/console/app) talks only HTTP: it cannot import src/errors.ts.
    const serverSide = ['src', 'functions', 'infra']
      .flatMap(sourceFiles)
      .filter((f) => !f.includes('/src/console/app/'));
    for (const file of serverSide) {
      for (const match of readFileSync(file, 'utf8').matchAll(/class (\w+) extends (\w*Error)\b/g)) {
        const base = match[2] as string;
        if (base in globalThis && !(file.endsWith('src/errors.ts') && match[1] === 'StixflowBaseError'))
          direct.push(`${file.slice(ROOT.length)}: ${match[1]} extends ${base}`);
      }
    }
    expect(direct).toEqual([]);
  });

  it('every exported error class is a StixflowBaseError named after its class', () => {
    const errors: Error[] = [
      new StixflowError('code', 'message'),
      new PatternError([{ severity: 'error', code: 'syntax', message: 'bad' }]),
      new MatchError('match', 'message'),
      new InputError('input', 'message'),
      new GenerationError('unsupported-generation', 'message'),
      new QueueConfigError('message'),
      new QueueServiceError('message'),
      new QueueAckError([]),
      new InvalidStateKeyError('message'),
      new InvalidStateWriteError('message'),
      new InvalidCounterError('message'),
      new StateStoreError('message'),
      new CounterFlushError(1, undefined),
      new EmulatorError('message'),
      new ConfigError(['problem']),
      new MessageFailure('code', 'reason'),
      new TargetPathError('message'),
      new OutputClosedError(),
    ];
    for (const error of errors) {
      expect(error).toBeInstanceOf(StixflowBaseError);
      expect(error.name).toBe(error.constructor.name);
    }
  });
});

describe('an error that wraps another keeps it as cause', () => {
  it('StixflowError takes ErrorOptions', () => {
    const cause = new Error('underneath');
    const error = new StixflowError('code', 'message', [], { cause });
    expect(error.cause).toBe(cause);
    expect(error.code).toBe('code');
  });

  it('the stores keep the AWS error they wrap', () => {
    const sdkError = Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
    expect(new StateStoreError('read failed', sdkError).cause).toBe(sdkError);
    expect(new QueueServiceError('receive failed', sdkError).cause).toBe(sdkError);
    expect(new CounterFlushError(2, sdkError).cause).toBe(sdkError);
  });

  it('a state key that is not Unicode text keeps the URIError', () => {
    let thrown: unknown;
    try {
      stateTableKey({ tenant: 'acme', ruleId: 'r', group: 'lone \ud800 surrogate' });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidStateKeyError);
    expect((thrown as Error).cause).toBeInstanceOf(URIError);
  });

  it('local tokens that are not JSON keep the parse error', () => {
    let thrown: unknown;
    try {
      parseLocalTokens('{not json');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(EmulatorError);
    expect((thrown as Error).cause).toBeInstanceOf(SyntaxError);
  });

  it('a MAPPINGS_DIR without the schema keeps the file system error', () => {
    let thrown: unknown;
    try {
      testRuntime({ MAPPINGS_DIR: '/nonexistent/mappings' });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as Error).message).toContain('MAPPINGS_DIR /nonexistent/mappings has no readable');
    expect(((thrown as Error).cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it('a bad target path is a TargetPathError', () => {
    expect(() => parseTargetPath('not a path')).toThrow(TargetPathError);
  });
});
