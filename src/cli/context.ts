// What every runpm subcommand shares: global flags, connecting, printing, and turning errors
// into one line on stderr with a non-zero exit code.
import type { Command } from 'commander';
import type { DaemonClient } from '../client/daemon-client';
import type { ConnectOptions } from '../client/connect';

export interface GlobalOptions {
  scope?: string;
  home?: string;
  socket?: string;
  json?: boolean;
}

/** Global flags of the command, wherever they were given on the line. */
export function globalsOf(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

/** Connects with the command's scope flags (lazy: the client is loaded only when needed). */
export async function connectFor(cmd: Command, extra: Partial<ConnectOptions> = {}): Promise<DaemonClient> {
  // Through the index, so every family's client methods are installed.
  const { connect } = require('../client') as typeof import('../client');
  const g = globalsOf(cmd);
  return connect({ scope: g.scope, home: g.home, socket: g.socket, clientName: `runpm pid=${process.pid}`, ...extra });
}

/** Prints a value as JSON (--json) or as the text the formatter makes. */
export function emit(cmd: Command, value: unknown, text: () => string): void {
  if (globalsOf(cmd).json) process.stdout.write(`${JSON.stringify(value, jsonReplacer, 2)}\n`);
  else {
    const out = text();
    if (out) process.stdout.write(out.endsWith('\n') ? out : `${out}\n`);
  }
}

/** JSON replacer: Uint8Array as UTF-8 text, bigint as number. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (typeof value === 'bigint') return Number(value);
  return value;
}

/** Wraps an action: errors become `runpm: message` and exit code 1; the client is closed. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await fn(...args);
      if (typeof code === 'number') process.exitCode = code;
    } catch (err) {
      process.stderr.write(`runpm: ${describeError(err)}\n`);
      process.exitCode = 1;
    }
  };
}

function describeError(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'number') {
    const { statusName } = require('../wire/errors') as typeof import('../wire/errors');
    return `${(err as unknown as Error).message} (${statusName((err as { code: number }).code)})`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** Runs fn with a connected client and always closes it. */
export async function withClient<T>(cmd: Command, fn: (client: DaemonClient) => Promise<T>, extra: Partial<ConnectOptions> = {}): Promise<T> {
  const client = await connectFor(cmd, extra);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}
