// The no-follow open helper and the trusted-directory walk, on real files: symlinks at the last
// component are refused and their targets untouched; files, FIFOs and hard links another user
// (uid 65534, through chown: the suite runs as root) could have planted are refused; directories
// on the way that others could change are refused with the reason.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openNoFollow, openNoFollowSync, UnsafePathError } from '../../src/files/no-follow';
import { checkTrustedDirectory } from '../../src/files/trusted-path';
import { makeTempHome } from '../helpers/daemon';

const NOBODY = 65534;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = makeTempHome('rp-nofollow-');
  dirs.push(d);
  return d;
}

function expectUnsafe(fn: () => unknown, code: string, pattern: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(UnsafePathError);
  expect((caught as UnsafePathError).code).toBe(code);
  expect((caught as Error).message).toMatch(pattern);
}

describe('openNoFollowSync', () => {
  it('creates a file 0600 and appends to it', () => {
    const file = path.join(tempDir(), 'a.log');
    for (const text of ['one\n', 'two\n']) {
      const fd = openNoFollowSync(file, 'append');
      fs.writeSync(fd, text);
      fs.closeSync(fd);
    }
    expect(fs.readFileSync(file, 'utf8')).toBe('one\ntwo\n');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('refuses a symlink at the last component for every intent, leaving its target as it was', () => {
    const dir = tempDir();
    const target = path.join(dir, 'target');
    fs.writeFileSync(target, 'precious\n');
    const link = path.join(dir, 'link.log');
    fs.symlinkSync(target, link);
    for (const intent of ['append', 'write', 'truncate', 'create', 'read'] as const) {
      expectUnsafe(() => openNoFollowSync(link, intent), 'ESYMLINK', /link\.log: it is a symbolic link/);
    }
    expect(fs.readFileSync(target, 'utf8')).toBe('precious\n');
  });

  it('refuses a file of another uid for writing and truncates nothing of it', () => {
    const file = path.join(tempDir(), 'theirs.log');
    fs.writeFileSync(file, 'theirs\n', { mode: 0o666 });
    fs.chownSync(file, NOBODY, NOBODY);
    expectUnsafe(() => openNoFollowSync(file, 'truncate'), 'EOWNER', /owned by uid 65534, not by this user/);
    expectUnsafe(() => openNoFollowSync(file, 'append'), 'EOWNER', /owned by uid 65534/);
    expect(fs.readFileSync(file, 'utf8')).toBe('theirs\n');
    // Reading a file the user named is fine whoever owns it.
    fs.closeSync(openNoFollowSync(file, 'read'));
  });

  it('refuses a FIFO unless allowed, and never blocks on one without a reader', () => {
    const fifo = path.join(tempDir(), 'fifo');
    expect(require('node:child_process').spawnSync('mkfifo', [fifo]).status).toBe(0);
    expectUnsafe(() => openNoFollowSync(fifo, 'append'), 'ENOTFILE', /FIFO/);
    expectUnsafe(() => openNoFollowSync(fifo, 'append', { allowFifo: true }), 'ENOTFILE', /FIFO with no reader/);
  });

  it('accepts /dev/null only when character devices are allowed', () => {
    expectUnsafe(() => openNoFollowSync('/dev/null', 'append'), 'ENOTFILE', /character device/);
    fs.closeSync(openNoFollowSync('/dev/null', 'append', { allowCharDevice: true }));
  });

  it('refuses a hard-linked file in a shared (sticky, world-writable) directory', () => {
    const shared = tempDir();
    fs.chmodSync(shared, 0o1777);
    const file = path.join(shared, 'out.log');
    fs.writeFileSync(file, 'x');
    fs.linkSync(file, path.join(shared, 'other'));
    expectUnsafe(() => openNoFollowSync(file, 'append'), 'ELINKS', /2 hard links/);
  });

  it('private: a file of ours with group/other bits loses them', () => {
    const file = path.join(tempDir(), 'wide.log');
    fs.writeFileSync(file, '', { mode: 0o666 });
    fs.chmodSync(file, 0o666);
    fs.closeSync(openNoFollowSync(file, 'append', { private: true }));
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('the async form refuses the same things', async () => {
    const dir = tempDir();
    const link = path.join(dir, 'l');
    fs.symlinkSync('/etc/hostname', link);
    await expect(openNoFollow(link, 'append')).rejects.toMatchObject({ code: 'ESYMLINK' });
    const fd = await openNoFollow(path.join(dir, 'ok'), 'truncate');
    fs.closeSync(fd);
  });
});

describe('checkTrustedDirectory', () => {
  it('accepts a private directory under /tmp (sticky) and returns its resolved path', () => {
    const dir = tempDir();
    expect(checkTrustedDirectory(dir)).toBe(fs.realpathSync(dir));
  });

  it('refuses a directory on the way that is world-writable without the sticky bit', () => {
    const open = tempDir();
    fs.chmodSync(open, 0o777);
    fs.mkdirSync(path.join(open, 'inner'), { mode: 0o700 });
    expectUnsafe(() => checkTrustedDirectory(path.join(open, 'inner')), 'EUNSAFEDIR', /mode is 0777: group or others can write to it and it is not sticky/);
  });

  it('refuses a directory owned by another uid, and a symlink of another uid on the way', () => {
    const base = tempDir();
    const theirs = path.join(base, 'theirs');
    fs.mkdirSync(theirs, { mode: 0o755 });
    fs.chownSync(theirs, NOBODY, NOBODY);
    expectUnsafe(() => checkTrustedDirectory(theirs), 'EUNSAFEDIR', /owned by uid 65534/);
    const link = path.join(base, 'link');
    fs.symlinkSync(base, link);
    fs.lchownSync(link, NOBODY, NOBODY);
    expectUnsafe(() => checkTrustedDirectory(path.join(link, 'x')), 'ESYMLINK', /symbolic link owned by uid 65534/);
  });

  it('follows a symlink of ours and checks where it leads', () => {
    const base = tempDir();
    const open = path.join(base, 'open');
    fs.mkdirSync(open);
    fs.chmodSync(open, 0o777);
    fs.symlinkSync('open', path.join(base, 'to-open'));
    expectUnsafe(() => checkTrustedDirectory(path.join(base, 'to-open')), 'EUNSAFEDIR', /open: the directory's mode is 0777/);
  });

  it('allowMissing: a missing tail under a checked directory is fine; without it ENOENT', () => {
    const base = tempDir();
    expect(checkTrustedDirectory(path.join(base, 'a', 'b'), { allowMissing: true })).toBe(path.join(fs.realpathSync(base), 'a', 'b'));
    expect(() => checkTrustedDirectory(path.join(base, 'a'))).toThrow(/ENOENT/);
  });

  it('walks raw bytes that are not UTF-8', () => {
    const base = tempDir();
    const name = Buffer.concat([Buffer.from(`${base}/`), Buffer.from([0xff, 0xfe])]);
    fs.mkdirSync(name, { mode: 0o700 });
    expect(() => checkTrustedDirectory(name)).not.toThrow();
  });
});
