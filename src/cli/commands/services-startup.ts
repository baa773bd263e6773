// `runpm startup [--install]`: the systemd user unit that runs the scope's daemon at login/boot
// with --resurrect. Prints it, or writes it to ~/.config/systemd/user/ and says how to enable it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Command } from 'commander';
import { action, emit, globalsOf } from '../context';

/** The unit text for a scope (KillMode=process: a daemon restart must not take services with it). */
export function systemdUnit(opts: { scope: string; home?: string; socket?: string; nodePath: string; runpmdPath: string }): string {
  const args = [opts.nodePath, opts.runpmdPath, '--scope', opts.scope, '--resurrect', '--quiet'];
  if (opts.home) args.push('--home', opts.home);
  if (opts.socket) args.push('--socket', opts.socket);
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `"${a.replace(/(["\\$`])/g, '\\$1')}"`);
  return [
    '[Unit]',
    `Description=running-process daemon (runpmd, scope ${opts.scope}) with its saved services`,
    'After=default.target',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${args.map(quote).join(' ')}`,
    'Restart=on-failure',
    'RestartSec=1',
    // Services live in their own sessions but in this unit's cgroup: only the daemon is signalled
    // when the unit stops or restarts; the daemon stops its services itself on a clean stop.
    'KillMode=process',
    'TimeoutStopSec=60',
    '',
    '[Install]',
    'WantedBy=default.target',
    '',
  ].join('\n');
}

export function registerStartupCommand(program: Command): void {
  program.command('startup')
    .description('print a systemd user unit that starts runpmd with --resurrect at boot (--install writes it)')
    .option('--install', 'write the unit to ~/.config/systemd/user/', false)
    .action(action(async (opts: { install: boolean }, cmd: Command) => {
      const g = globalsOf(cmd);
      const { resolveScopePaths } = require('../../scope/paths') as typeof import('../../scope/paths');
      const { runpmdEntry } = require('../../client/connect') as typeof import('../../client/connect');
      const paths = resolveScopePaths({ scope: g.scope, home: g.home, socket: g.socket });
      const home = g.home ?? process.env.RUNPM_HOME;
      const unit = systemdUnit({ scope: paths.scope, home: home ? path.resolve(home) : undefined, socket: g.socket, nodePath: process.execPath, runpmdPath: runpmdEntry() });
      const unitName = `runpm-${paths.scope}.service`;
      if (!opts.install) {
        emit(cmd, { unitName, unit }, () => unit);
        return;
      }
      const dir = path.join(process.env.XDG_CONFIG_HOME ?? path.join(os.homedir(), '.config'), 'systemd', 'user');
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, unitName);
      fs.writeFileSync(`${file}.tmp`, unit, { mode: 0o644 });
      fs.renameSync(`${file}.tmp`, file);
      emit(cmd, { unitName, path: file }, () => [
        `wrote ${file}`,
        'enable it with:',
        `  systemctl --user daemon-reload && systemctl --user enable --now ${unitName}`,
        'and keep it running after logout with:',
        `  loginctl enable-linger ${os.userInfo().username}`,
        "run 'runpm save' whenever the services you want at boot are running.",
      ].join('\n'));
    }));
}
