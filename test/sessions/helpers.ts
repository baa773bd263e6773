// Shared pieces of the session tests: reading an attachment to its end, /proc lookups, fixtures.
import * as fs from 'node:fs';
import type { PipeAttachment, PipeFrame } from '../../src/client/sessions-api';
import { DaemonError } from '../../src/wire/errors';
import { StatusCode } from '../../src/wire/proto';
import { expect } from 'vitest';

export interface Collected {
  data: Buffer;
  missed: number;
  frames: PipeFrame[];
  terminal: PipeFrame | null;
  /** Largest bytes payload seen. */
  maxChunk: number;
  /** Frames that arrived after the terminal frame (must be none). */
  afterTerminal: number;
}

/** Reads an attachment until the daemon closes it. */
export async function collect(att: PipeAttachment): Promise<Collected> {
  const chunks: Buffer[] = [att.backlog];
  const frames: PipeFrame[] = [];
  let missed = 0;
  let terminal: PipeFrame | null = null;
  let maxChunk = 0;
  let afterTerminal = 0;
  for (;;) {
    const f = await att.next();
    if (!f) break;
    frames.push(f);
    if (terminal) {
      afterTerminal++;
      continue;
    }
    if (f.kind === 'bytes') {
      chunks.push(f.data);
      maxChunk = Math.max(maxChunk, f.data.length);
    } else if (f.kind === 'missed') missed += f.bytes;
    else terminal = f;
  }
  return { data: Buffer.concat(chunks), missed, frames, terminal, maxChunk, afterTerminal };
}

/** The process group of pid, or null if it is gone. */
export function pgrpOf(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return null;
  }
}

/** Asserts a DaemonError with this status whose message matches. */
export async function expectDaemonError(p: Promise<unknown>, code: StatusCode, message: RegExp): Promise<void> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err, 'expected the call to fail').toBeInstanceOf(DaemonError);
  expect(StatusCode[(err as DaemonError).code]).toBe(StatusCode[code]);
  expect((err as DaemonError).message).toMatch(message);
}

/** A python3 fixture child: argv running `code`. */
export function py(code: string): string[] {
  return ['python3', '-c', code];
}
