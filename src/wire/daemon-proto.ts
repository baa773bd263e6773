// Makes the daemon load the lean generated protobuf code (scripts/build.mjs: daemon-lean.js, no
// fromObject/toObject/toJSON/getTypeUrl, which only clients use) wherever src/wire/proto.ts asks for
// the full module. Called once by runpmd's entry point before anything loads the protocol; a build
// without the lean file (or vitest running src/) keeps the full module.
import * as fs from 'node:fs';
import * as path from 'node:path';
import './protobuf-config';

/** Points require('../gen/daemon') at the lean module when it exists; true when it did. */
export function useLeanProtobufCode(): boolean {
  const lean = path.join(__dirname, '..', 'gen', 'daemon-lean.js');
  if (!fs.existsSync(lean)) return false;
  const full = require.resolve('../gen/daemon');
  require(lean);
  require.cache[full] = require.cache[lean];
  return true;
}
