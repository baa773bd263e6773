// Entry point of runpm.
import { runCli } from '../cli/main';

runCli(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`runpm: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
