// Signal names as users type them (INT, SIGINT, int, 2) turned into Node's signal names, for
// `runpm kill --signal` and TerminatePipeSession/TerminatePtySession.signal. Pure.
import * as os from 'node:os';
import { InvalidArgumentError } from '../wire/errors';

const SIGNALS = os.constants.signals as Record<string, number>;

/** The signal a name or number stands for; INVALID_ARGUMENT naming the value otherwise. */
export function parseSignal(value: string, field = 'signal'): NodeJS.Signals {
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    const name = Object.keys(SIGNALS).find((k) => SIGNALS[k] === n && k !== 'SIGIOT' && k !== 'SIGPOLL' && k !== 'SIGUNUSED');
    if (name && n > 0) return name as NodeJS.Signals;
  } else {
    const upper = text.toUpperCase();
    const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
    if (name in SIGNALS) return name as NodeJS.Signals;
  }
  throw new InvalidArgumentError(`${field} ${JSON.stringify(value)} is not a signal (use a name like INT, TERM, KILL, HUP, USR1, or its number)`);
}
