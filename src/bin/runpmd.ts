// Entry point of runpmd.
import { useLeanProtobufCode } from '../wire/daemon-proto';

// Before the daemon's modules load the protocol (see daemon-proto.ts).
useLeanProtobufCode();
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { runDaemon } = require('../daemon/main') as typeof import('../daemon/main');

runDaemon(process.argv.slice(2)).then(
  (code: number) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`runpmd: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
