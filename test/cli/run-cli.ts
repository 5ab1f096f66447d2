import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/main.js';

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

async function drain(stream: PassThrough): Promise<string> {
  stream.end();
  let text = '';
  for await (const chunk of stream) text += String(chunk);
  return text;
}

/** Runs the stixflow CLI in-process, capturing its output. */
export async function runCli(argv: string[], stdinText = ''): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  stdin.end(stdinText);
  const code = await main(argv, { stdout, stderr, stdin });
  return { code, out: await drain(stdout), err: await drain(stderr) };
}
