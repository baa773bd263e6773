// Makes protobufjs decode 64-bit integers as plain numbers (exact up to 2^53, enough for byte
// offsets and timestamps) instead of Long objects. Must load before the generated code, whose
// field defaults are fixed when it loads.
import type * as ProtobufMinimal from 'protobufjs/minimal';

// protobufjs/minimal looks for long.js as it loads (global dcodeIO.Long, then global Long, then
// require('long')) and we switch Long off right after: loading long.js costs the CLI 1-2 ms of
// start-up for nothing. A truthy global.Long during that one require skips the lookup.
const globals = globalThis as { Long?: unknown };
const placeholder = !('Long' in globals);
if (placeholder) globals.Long = function LongDisabled(): void {};
const protobuf = require('protobufjs/minimal') as typeof ProtobufMinimal;
if (placeholder) delete globals.Long;

protobuf.util.Long = undefined as unknown as typeof protobuf.util.Long;
protobuf.configure();
