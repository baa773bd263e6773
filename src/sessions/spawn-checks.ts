// The one place spawn requests are checked before anything starts: argv (or a shell command),
// text fields that reach exec() (no NUL), environment entries, the working directory, and the
// program itself (found and executable, as a shell would look it up). Used by pipe sessions, PTY
// sessions, SPAWN_DAEMON and services, so a request every path refuses reads the same everywhere.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CommandNotExecutableError, CommandNotFoundError, InvalidArgumentError, ResourceExhaustedError, isResourceErrno,
} from '../wire/errors';

/** PATH for a lookup when the child's environment has none (what execvp falls back to). */
export const DEFAULT_LOOKUP_PATH = '/usr/local/bin:/usr/bin:/bin';
/** How much of a bad value an error message quotes. */
const QUOTE_CHARS = 80;

/** A value for an error message: JSON-quoted, cut at QUOTE_CHARS. */
export function quote(value: string): string {
  return JSON.stringify(value.length > QUOTE_CHARS ? `${value.slice(0, QUOTE_CHARS)}...` : value);
}

/** `where` prefixes every message ("" or e.g. "service 'web': "). */
export interface CheckContext {
  where?: string;
}

/** Throws INVALID_ARGUMENT when a text field that reaches exec() holds a NUL byte. */
export function checkNoNul(field: string, value: string, ctx: CheckContext = {}): void {
  if (value.includes('\0')) throw new InvalidArgumentError(`${ctx.where ?? ''}${field} ${quote(value)} contains a NUL byte`);
}

/** Checks an argv: at least the program, a non-empty program, no NUL in any element. */
export function checkArgv(argv: readonly unknown[], ctx: CheckContext & { field?: string } = {}): string[] {
  const field = ctx.field ?? 'argv';
  const where = ctx.where ?? '';
  if (argv.length === 0) throw new InvalidArgumentError(`${where}${field} must not be empty (it names the program to run)`);
  argv.forEach((arg, i) => {
    if (typeof arg !== 'string') throw new InvalidArgumentError(`${where}${field}[${i}] must be a string, got ${JSON.stringify(arg)}`);
    checkNoNul(`${field}[${i}]`, arg, ctx);
  });
  if (argv[0] === '') throw new InvalidArgumentError(`${where}${field}[0] (the program) must not be empty`);
  return argv as string[];
}

/** Checks a shell command line (SPAWN_DAEMON): not blank, no NUL. */
export function checkShellCommand(command: string, ctx: CheckContext = {}): void {
  if (command.trim() === '') throw new InvalidArgumentError(`${ctx.where ?? ''}command must not be empty`);
  checkNoNul('command', command, ctx);
}

/** An ordered environment entry (KeyValue on the wire). */
export interface EnvEntry {
  key: string;
  value: string;
}

/** Throws INVALID_ARGUMENT naming a key a child environment cannot carry. */
export function checkEnvKey(key: string, ctx: CheckContext = {}): void {
  if (key === '' || key.includes('=') || key.includes('\0')) {
    throw new InvalidArgumentError(`${ctx.where ?? ''}env key ${quote(key)} is invalid: it must be non-empty, without '=' or NUL`);
  }
}

/** Checks ordered entries (keys and values) and returns them. */
export function checkEnvEntries(entries: readonly EnvEntry[], ctx: CheckContext = {}): readonly EnvEntry[] {
  for (const { key, value } of entries) {
    checkEnvKey(key, ctx);
    if (value.includes('\0')) throw new InvalidArgumentError(`${ctx.where ?? ''}env value of ${quote(key)} contains a NUL byte`);
  }
  return entries;
}

/** Resolves a request's cwd against `base` (the daemon's working directory when "" is sent). */
export function resolveCwd(requested: string, base: string, ctx: CheckContext = {}): string {
  checkNoNul('cwd', requested, ctx);
  return requested === '' ? base : path.resolve(base, requested);
}

/** Throws INVALID_ARGUMENT naming the directory when cwd is missing or not a directory. */
export function checkCwd(cwd: string, ctx: CheckContext = {}): void {
  const where = ctx.where ?? '';
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(cwd, { throwIfNoEntry: false });
  } catch (err) {
    // ENAMETOOLONG, ENOTDIR, ELOOP, EACCES: a path no child can start in.
    throw new InvalidArgumentError(`${where}cwd ${quote(cwd)} cannot be used: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!st) throw new InvalidArgumentError(`${where}cwd ${quote(cwd)} does not exist`);
  if (!st.isDirectory()) throw new InvalidArgumentError(`${where}cwd ${quote(cwd)} is not a directory`);
}

/** What a lookup of argv[0] found: the file to exec. */
export interface ResolvedProgram {
  /** Absolute path of the executable. */
  file: string;
}

/** How a shell words the errors a lookup can meet (strerror). */
const STAT_ERROR_WORDS: Record<string, string> = {
  ENOTDIR: 'Not a directory', ENAMETOOLONG: 'File name too long', ELOOP: 'Too many levels of symbolic links', EACCES: 'Permission denied',
};

/** Why one candidate file cannot be run (as a shell words it), or null when it can. */
function whyNotRunnable(file: string): string | null {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(file, { throwIfNoEntry: false });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    return STAT_ERROR_WORDS[code] ?? code;
  }
  if (!st) return 'missing';
  if (st.isDirectory()) return 'Is a directory';
  try {
    fs.accessSync(file, fs.constants.X_OK);
  } catch {
    return 'Permission denied';
  }
  return st.isFile() ? null : 'Permission denied';
}

/**
 * Finds what execvp would run for `program` from `cwd` with the child's PATH, like a shell: a name
 * with a slash is taken relative to cwd; a bare name is looked up on PATH (an empty entry is the
 * cwd). Throws COMMAND_NOT_FOUND (a shell's exit 127) or COMMAND_NOT_EXECUTABLE (126), worded as
 * bash words them.
 */
export function resolveProgram(program: string, cwd: string, envPath: string | undefined): ResolvedProgram {
  if (program.includes('/')) {
    const file = path.resolve(cwd, program);
    const why = whyNotRunnable(file);
    if (why === null) return { file };
    if (why === 'missing') throw new CommandNotFoundError(program, `${program}: No such file or directory`);
    throw new CommandNotExecutableError(program, `${program}: ${why}`);
  }
  let denied = false;
  for (const dir of (envPath ?? DEFAULT_LOOKUP_PATH).split(':')) {
    const file = path.resolve(cwd, dir || '.', program);
    const why = whyNotRunnable(file);
    if (why === null) return { file };
    // A match that cannot be run does not stop the search (execvp goes on); it decides the error.
    if (why === 'Permission denied') denied = true;
    // Anything else (missing, a directory, ENOTDIR, a name too long) is no match: the next entry.
  }
  if (denied) throw new CommandNotExecutableError(program, `${program}: Permission denied`);
  throw new CommandNotFoundError(program, `${program}: command not found`);
}

/**
 * The error for a spawn that failed after the checks passed (the file changed meanwhile, or exec
 * refused it): ENOENT as not found, EACCES/ENOEXEC as not executable, out of fds/processes as
 * RESOURCE_EXHAUSTED, anything else as INVALID_ARGUMENT.
 */
export function spawnErrorOf(program: string, err: NodeJS.ErrnoException): Error {
  // Out of fds or processes is not the caller's mistake: RESOURCE_EXHAUSTED, so they may retry.
  if (isResourceErrno(err.code)) return new ResourceExhaustedError(`cannot start ${quote(program)}: ${err.code}`);
  if (err.code === 'ENOENT') return new CommandNotFoundError(program, `${program}: No such file or directory`);
  if (err.code === 'EACCES') return new CommandNotExecutableError(program, `${program}: Permission denied`);
  if (err.code === 'ENOEXEC') return new CommandNotExecutableError(program, `${program}: Exec format error`);
  return new InvalidArgumentError(`cannot start ${quote(program)}: ${err.code ?? err.message}`);
}

/** The fields every argv spawn request carries (pipe and PTY sessions). */
export interface ArgvSpawnFields {
  argv: readonly unknown[];
  cwd: string;
  env: readonly EnvEntry[];
  originator: string;
}

/** Checks an argv spawn request's own fields before its environment is built; returns the argv. */
export function checkArgvSpawnFields(req: ArgvSpawnFields, ctx: CheckContext = {}): string[] {
  const argv = checkArgv(req.argv, ctx);
  checkNoNul('originator', req.originator, ctx);
  checkNoNul('cwd', req.cwd, ctx);
  checkEnvEntries(req.env, ctx);
  return argv;
}
