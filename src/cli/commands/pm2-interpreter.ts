// How `runpm start SCRIPT` turns a script into an argv, with pm2's rules: an interpreter by
// extension (.js → node, .py → python3, .sh → bash, ...), the `interpreter` / `exec_interpreter`
// key ("none" = run the file itself), node_args / interpreter_args before the script; a file with
// no known extension runs by its shebang, a binary runs itself, and any other text file runs under
// node (as pm2: `bin/www` with a node shebang and mode 644 still runs). Also the reverse: what a
// stored argv means in pm2's terms (exec_interpreter, pm_exec_path, args) for jlist.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** pm2's extension → interpreter map (lib/API/interpreter.json), python meaning python3 here. */
const EXTENSION_INTERPRETERS: Readonly<Record<string, string>> = {
  '.js': 'node', '.cjs': 'node', '.mjs': 'node', '.py': 'python3', '.sh': 'bash', '.rb': 'ruby', '.php': 'php', '.pl': 'perl',
  '.coffee': 'coffee', '.ls': 'lsc',
};

/** Interpreter names recognised when reading an argv back (jlist's exec_interpreter). */
const KNOWN_INTERPRETERS = /^(node|nodejs|bun|deno|python[0-9.]*|bash|sh|zsh|dash|ruby|php|perl|coffee|lsc|tsx|ts-node)$/;

/** What a start runs, in pm2's terms. */
export interface ScriptPlan {
  /** 'none' when the file (or command) runs itself. */
  interpreter: string;
  interpreterArgs: string[];
  /** The script (absolute) or the command's resolved program. */
  execPath: string;
  args: string[];
  argv: string[];
}

/** Finds a command in PATH like a shell (executable regular files only); null when absent. */
export function whichSync(command: string, envPath = process.env.PATH ?? ''): string | null {
  if (command.includes('/')) return command;
  for (const dir of envPath.split(':')) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    try {
      const st = fs.statSync(candidate);
      if (st.isFile() && (st.mode & 0o111) !== 0) {
        fs.accessSync(candidate, fs.constants.X_OK);
        return candidate;
      }
    } catch {
      // not here
    }
  }
  return null;
}

/** The first bytes of a file (empty when unreadable). */
function head(file: string, bytes = 512): Buffer {
  let fd: number | null = null;
  try {
    fd = fs.openSync(file, 'r');
    const buf = Buffer.alloc(bytes);
    const n = fs.readSync(fd, buf, 0, bytes, 0);
    return buf.subarray(0, n);
  } catch {
    return Buffer.alloc(0);
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

/** The shebang's interpreter and its arguments (`#!/usr/bin/env node` → ['node']), or null. */
export function shebangOf(file: string): string[] | null {
  const bytes = head(file, 256);
  if (bytes.length < 3 || bytes[0] !== 0x23 || bytes[1] !== 0x21) return null;
  const line = bytes.toString('utf8').slice(2).split('\n')[0].trim();
  const words = line.split(/\s+/).filter(Boolean);
  if (words.length === 0) return null;
  if (path.basename(words[0]) === 'env') {
    const rest = words.slice(1).filter((w) => w !== '-S');
    return rest.length > 0 ? rest : null;
  }
  return words;
}

/** True for a file that is not text (ELF and friends: a NUL byte in the first 512 bytes). */
function isBinaryFile(file: string): boolean {
  return head(file).includes(0);
}

/** The interpreter pm2 would choose for a script file (null = run it directly). */
export function interpreterFor(file: string): string[] | null {
  const ext = path.extname(file);
  // A shell script's own shebang wins (#!/bin/bash vs #!/bin/sh); other extensions follow pm2's map.
  if (ext === '.sh') return shebangOf(file) ?? ['bash'];
  const byExtension = EXTENSION_INTERPRETERS[ext];
  if (byExtension) return [byExtension];
  const shebang = shebangOf(file);
  if (shebang) return shebang;
  if (isBinaryFile(file)) return null;
  return ['node'];
}

/** Options of the interpreter choice (ecosystem keys or flags). */
export interface InterpreterOptions {
  /** interpreter / exec_interpreter; "none" runs the file itself. */
  interpreter?: string;
  /** interpreter_args / node_args (node_args only apply when the interpreter is node). */
  interpreterArgs?: string[];
  nodeArgs?: string[];
}

/** Thrown when the script is neither a file nor a command in PATH. */
export class ScriptNotFoundError extends Error {}

/**
 * Plans `start SCRIPT ARGS...` in cwd: a file (relative to cwd) runs with its interpreter; a word
 * that is no file is looked up in PATH (`start ls`) and runs itself.
 */
export function planScript(script: string, args: string[], cwd: string, opts: InterpreterOptions = {}): ScriptPlan {
  const abs = path.resolve(cwd, script);
  let isFile = false;
  try {
    isFile = fs.statSync(abs).isFile();
  } catch {
    isFile = false;
  }
  let execPath: string;
  if (isFile) execPath = abs;
  else {
    const found = script.includes('/') ? null : whichSync(script);
    if (!found) throw new ScriptNotFoundError(`script not found: ${script} (no file ${abs}, and no command of that name in PATH)`);
    execPath = found;
  }
  let interp: string[] | null;
  if (opts.interpreter !== undefined && opts.interpreter !== '') interp = opts.interpreter === 'none' ? null : [opts.interpreter];
  else interp = isFile ? interpreterFor(abs) : null;
  const extra = [...(opts.interpreterArgs ?? [])];
  if (interp && /(^|\/)node$/.test(interp[0])) extra.push(...(opts.nodeArgs ?? []));
  const interpreterArgs = interp ? [...interp.slice(1), ...extra] : [];
  const argv = interp ? [interp[0], ...interpreterArgs, execPath, ...args] : [execPath, ...args];
  return { interpreter: interp ? interp[0] : 'none', interpreterArgs, execPath, args, argv };
}

/** Reads a stored argv back in pm2's terms (jlist): interpreter, its options, script, args. */
export function describeArgv(cmd: readonly string[]): { interpreter: string; interpreterArgs: string[]; execPath: string; args: string[] } {
  const first = cmd[0] ?? '';
  if (KNOWN_INTERPRETERS.test(path.basename(first))) {
    let i = 1;
    while (i < cmd.length && cmd[i].startsWith('-')) {
      // `node -e CODE` / `bash -c CODE`: no script file; the command is the whole argv.
      if (/^(-e|--eval|-c|-p|--print)$/.test(cmd[i])) return { interpreter: 'none', interpreterArgs: [], execPath: first, args: cmd.slice(1) };
      i++;
    }
    if (i < cmd.length) return { interpreter: path.basename(first), interpreterArgs: cmd.slice(1, i), execPath: cmd[i], args: cmd.slice(i + 1) };
  }
  return { interpreter: 'none', interpreterArgs: [], execPath: first, args: cmd.slice(1) };
}

/** True when the argv runs a python interpreter (pm2 sets PYTHONUNBUFFERED=1 for those). */
export function runsPython(argv: readonly string[]): boolean {
  return /python/.test(path.basename(argv[0] ?? ''));
}
