// Makes protobufjs decode 64-bit integers as plain numbers (exact up to 2^53, enough for byte
// offsets and timestamps) instead of Long objects. Must load before the generated code, whose
// field defaults are fixed when it loads.
import type * as ProtobufMinimal from 'protobufjs/minimal';

// protobufjs's minimal runtime looks for long.js as it loads (global dcodeIO.Long, then global Long, then
// require('long')) and we switch Long off right after: loading long.js costs the CLI 1-2 ms of
// start-up for nothing. A truthy global.Long during that one require skips the lookup.
const globals = globalThis as { Long?: unknown };
const placeholder = !('Long' in globals);
if (placeholder) globals.Long = function LongDisabled(): void {};
// The one-file build of the minimal runtime, the module the generated code requires (see
// scripts/build.mjs PBJS_RUNTIME): one file to load instead of a dozen.
const protobuf = require('protobufjs/dist/minimal/protobuf.js') as typeof ProtobufMinimal;
if (placeholder) delete globals.Long;

protobuf.util.Long = undefined as unknown as typeof protobuf.util.Long;
protobuf.configure();

/** The configured runtime: use this, never a fresh require of protobufjs/minimal (a second copy). */
export const protobufRuntime = protobuf;
