// Entry point of runpmd.
import { runDaemon } from '../daemon/main';

runDaemon(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`runpmd: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
