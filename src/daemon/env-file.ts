// Reads `runpmd --env-from FILE`: default environment entries kept off the command line (where
// any local user can read them in /proc/<pid>/cmdline). Read once at daemon start. Not named
// --env-file: Node 20 itself acts on that flag wherever it appears in argv.
import * as fs from 'node:fs';

/** Thrown for an unreadable file or a bad line; the message names the file and line. */
export class EnvFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvFileError';
  }
}

/**
 * Parses KEY=VALUE lines in order (blank lines and `#` comments skipped, an optional `export `
 * prefix allowed, one pair of surrounding quotes removed from the value).
 */
export function parseEnvFile(text: string, file: string): Array<{ key: string; value: string }> {
  const entries: Array<{ key: string; value: string }> = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const body = line.startsWith('export ') ? line.slice(7).trimStart() : line;
    const eq = body.indexOf('=');
    const key = eq > 0 ? body.slice(0, eq).trim() : '';
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new EnvFileError(`${file}:${i + 1}: expected KEY=VALUE with a name of [A-Za-z_][A-Za-z0-9_]*, got ${JSON.stringify(raw.slice(0, 80))}`);
    }
    let value = body.slice(eq + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) value = value.slice(1, -1);
    entries.push({ key, value });
  });
  return entries;
}

/** Reads and parses an env file; EnvFileError naming the file when it cannot be read. */
export function readEnvFile(file: string): Array<{ key: string; value: string }> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new EnvFileError(`cannot read --env-from ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseEnvFile(text, file);
}
