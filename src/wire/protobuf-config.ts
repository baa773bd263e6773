// Makes protobufjs decode 64-bit integers as plain numbers (exact up to 2^53, enough for byte
// offsets and timestamps) instead of Long objects. Must load before the generated code, whose
// field defaults are fixed when it loads.
import * as protobuf from 'protobufjs/minimal';

protobuf.util.Long = undefined as unknown as typeof protobuf.util.Long;
protobuf.configure();
