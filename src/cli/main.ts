/** The `stixflow` command line: one entry point dispatching to thin command modules. */
import type { CliIo, Command } from './io.js';
import { writeLine } from './io.js';
import { StixflowError } from '../errors.js';

interface CommandEntry {
  summary: string;
  load: () => Promise<Command>;
}

const COMMANDS: Record<string, CommandEntry> = {
  validate: {
    summary: 'check STIX patterns and print every error with its position',
    load: async () => (await import('./pattern-commands.js')).validateCommand,
  },
  match: {
    summary: 'match a pattern against observed data (batch semantics), print the binding',
    load: async () => (await import('./pattern-commands.js')).matchCommand,
  },
  run: {
    summary: 'stream events through the rules (in-memory state), print alerts as NDJSON',
    load: async () => (await import('./run-commands.js')).runCommand,
  },
  state: {
    summary: "explain a rule's correlation state: partial matches, pending, expiry",
    load: async () => (await import('./run-commands.js')).stateCommand,
  },
  test: {
    summary: "run rules' unit tests and generated checks; --junit for CI",
    load: async () => (await import('./test-command.js')).testCommand,
  },
  rules: {
    summary: 'rule health from a running stixflow: status (7 days of counts), enable, disable',
    load: async () => (await import('./rules-command.js')).rulesCommand,
  },
  emit: {
    summary: 'generate observed data that satisfies a pattern (or near misses with --miss)',
    load: async () => (await import('./emit.js')).emitCommand,
  },
  sigma: {
    summary: 'sigma convert: print the STIX pattern each Sigma rule compiles to',
    load: async () => (await import('./sigma-command.js')).sigmaCommand,
  },
  normalise: {
    summary: 'turn raw events (ECS, flat key-value, STIX) into STIX 2.1 observed data',
    load: async () => (await import('./normalise.js')).normaliseCommand,
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `Usage: stixflow <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun 'stixflow <command> --help' for the options of a command.`;
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    writeLine(name === undefined ? io.stderr : io.stdout, usage());
    return name === undefined ? 2 : 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    writeLine(io.stderr, `unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  try {
    return await (
      await entry.load()
    )(rest, io);
  } catch (error) {
    // A bad option value (an engine option out of range, say) is the user's to fix: one line
    // naming it, not a stack trace. Anything else is a bug and keeps its trace.
    if (!(error instanceof StixflowError)) throw error;
    writeLine(io.stderr, `stixflow ${name}: error [${error.code}] ${error.message}`);
    return 2;
  }
}
