// proto/daemon.proto against the two contracts it must stay compatible with (test/fixtures/contracts):
// the v1 seed (every field and value kept, same number and type) and the reference's newest proto
// (none of our additions on a number it uses). Our additions live in 1000-1999 (see the header of
// proto/daemon.proto), so the two can grow apart without ever reading one field as another.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';

const ROOT = path.join(__dirname, '..', '..');
const OURS = path.join(ROOT, 'proto', 'daemon.proto');
const SEED = path.join(ROOT, 'test', 'fixtures', 'contracts', 'v1-seed.proto');
const REFERENCE = path.join(ROOT, 'test', 'fixtures', 'contracts', 'reference-head.proto');
const PACKAGE = 'running_process.daemon.v1';
const OURS_FIRST = 1000;
const OURS_LAST = 1999;

interface Numbered {
  kind: 'field' | 'value';
  name: string;
  id: number;
  type: string;
}
type Contract = Map<string, Map<number, Numbered>>;

/** Every message's fields and every enum's values, keyed by the type's name then by number. */
function loadContract(file: string): Contract {
  const root = protobuf.parse(fs.readFileSync(file, 'utf8'), { keepCase: true }).root;
  const pkg = root.lookup(PACKAGE) as protobuf.Namespace;
  const out: Contract = new Map();
  const visit = (ns: protobuf.NamespaceBase): void => {
    for (const nested of ns.nestedArray) {
      if (nested instanceof protobuf.Type) {
        const fields = new Map<number, Numbered>();
        for (const f of nested.fieldsArray) {
          const type = f.map ? `map<${(f as protobuf.MapField).keyType},${f.type}>` : (f.repeated ? `repeated ${f.type}` : f.type);
          fields.set(f.id, { kind: 'field', name: f.name, id: f.id, type });
        }
        out.set(nested.name, fields);
        visit(nested);
      } else if (nested instanceof protobuf.Enum) {
        const values = new Map<number, Numbered>();
        for (const [name, id] of Object.entries(nested.values)) values.set(id, { kind: 'value', name, id, type: 'enum' });
        out.set(nested.name, values);
      } else if (nested instanceof protobuf.Namespace) {
        visit(nested);
      }
    }
  };
  visit(pkg);
  return out;
}

/** Numbers reserved in one of our messages or enums. */
function reservedOf(file: string, typeName: string): number[] {
  const root = protobuf.parse(fs.readFileSync(file, 'utf8'), { keepCase: true }).root;
  const t = root.lookup(`${PACKAGE}.${typeName}`) as protobuf.Type | protobuf.Enum;
  const ids: number[] = [];
  for (const r of t.reserved ?? []) {
    if (Array.isArray(r)) for (let i = r[0]; i <= r[1]; i++) ids.push(i);
  }
  return ids;
}

const ours = loadContract(OURS);
const seed = loadContract(SEED);
const reference = loadContract(REFERENCE);

describe('proto numbering against the seed and the reference', () => {
  it('keeps every type, field and enum value of the v1 seed with the same number, name and type', () => {
    const problems: string[] = [];
    for (const [typeName, entries] of seed) {
      const mine = ours.get(typeName);
      if (!mine) {
        problems.push(`${typeName} is missing`);
        continue;
      }
      for (const [id, e] of entries) {
        const m = mine.get(id);
        if (!m) problems.push(`${typeName}: ${e.kind} ${id} (${e.name}) is missing`);
        else if (m.name !== e.name || m.type !== e.type) problems.push(`${typeName}: ${id} is ${m.type} ${m.name}, the seed has ${e.type} ${e.name}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('gives none of our additions a number the seed or the reference uses, and keeps them in 1000-1999', () => {
    const problems: string[] = [];
    for (const [typeName, entries] of ours) {
      const inSeed = seed.get(typeName);
      const inReference = reference.get(typeName);
      if (!inSeed && !inReference) continue; // a message or enum of our own: numbers from 1 are ours
      for (const [id, m] of entries) {
        const s = inSeed?.get(id);
        const r = inReference?.get(id);
        if (s && s.name === m.name) continue;
        if (r && r.name === m.name && r.type === m.type) continue; // the reference's addition, implemented
        if (s || r) {
          const theirs = (s ?? r) as Numbered;
          problems.push(`${typeName}: our ${m.name} = ${id} collides with ${s ? 'the seed' : 'the reference'}'s ${theirs.name}`);
        } else if (id !== 0 && (id < OURS_FIRST || id > OURS_LAST)) {
          problems.push(`${typeName}: our ${m.name} = ${id} is outside ${OURS_FIRST}-${OURS_LAST}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('reserves no number the reference uses in the same type (we implement what it added there)', () => {
    const problems: string[] = [];
    for (const [typeName, entries] of reference) {
      if (!ours.has(typeName)) continue;
      for (const id of reservedOf(OURS, typeName)) {
        if (entries.has(id)) problems.push(`${typeName}: ${id} is reserved here but is the reference's ${entries.get(id)?.name}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('pairs every RequestType with a DaemonRequest and DaemonResponse payload of the same number', () => {
    const types = ours.get('RequestType') as Map<number, Numbered>;
    const req = ours.get('DaemonRequest') as Map<number, Numbered>;
    const res = ours.get('DaemonResponse') as Map<number, Numbered>;
    const problems: string[] = [];
    for (const [id, t] of types) {
      if (id === 0) continue;
      if (!req.has(id)) problems.push(`${t.name} = ${id} has no DaemonRequest field ${id}`);
      if (!res.has(id)) problems.push(`${t.name} = ${id} has no DaemonResponse field ${id}`);
    }
    expect(problems).toEqual([]);
  });
});
