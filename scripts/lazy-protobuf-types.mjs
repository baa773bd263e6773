// Rewrites pbjs static code so each message and enum of the package is built on first use.
//
// Why: pbjs wraps every type in an immediately invoked function, so V8 compiles all ~110 of them
// at load, and the V8 code cache the CLI keeps (src/cli/compile-cache.ts) holds their bytecode:
// a `runpm list` deserialised ~320 KB of cache and built every class to use four of them. As a
// function passed to a getter, a type's body is only pre-parsed until something reads it.
//
// The rewrite is textual and strict: pbjs prints each top-level type of the package as
// `            v1.Name = (function() {` … `            })();` at exactly that indentation. Anything
// else (a new pbjs layout, a mismatched count) fails the build rather than shipping half a rewrite.

const OPEN = /^( {12})v1\.([A-Za-z_$][\w$]*) = \(function\(\) \{$/;
const CLOSE = /^ {12}\}\)\(\);$/;
const NAMESPACE_LINE = /^ {12}var v1 = \{\};$/;

/** The helper put at the top of the rewritten module. */
const HELPER = `
// Added by scripts/lazy-protobuf-types.mjs: defines ns[name] by running define() on first read.
function $lazyType(ns, name, define) {
    $Object.defineProperty(ns, name, {
        configurable: true,
        enumerable: true,
        get: function() {
            var value = define();
            $Object.defineProperty(ns, name, { value: value, writable: true, configurable: true, enumerable: true });
            return value;
        }
    });
}
`;

/**
 * @param {string} source pbjs static-module output for one package `running_process.daemon.v1`
 * @returns {string} the same module with every top-level type of v1 defined lazily
 */
export function makeProtobufTypesLazy(source) {
  const lines = source.split('\n');
  let opened = 0;
  let closed = 0;
  let inType = false;
  let namespaceSeen = false;
  const out = lines.map((line) => {
    if (NAMESPACE_LINE.test(line)) namespaceSeen = true;
    const open = OPEN.exec(line);
    if (open) {
      if (inType) throw new Error(`lazy-protobuf-types: type ${open[2]} opens inside another type`);
      inType = true;
      opened++;
      return `${open[1]}$lazyType(v1, ${JSON.stringify(open[2])}, function() {`;
    }
    if (CLOSE.test(line)) {
      if (!inType) throw new Error('lazy-protobuf-types: a type closes that never opened');
      inType = false;
      closed++;
      return line.replace('})();', '});');
    }
    return line;
  });
  if (!namespaceSeen || opened === 0 || opened !== closed || inType) {
    throw new Error(`lazy-protobuf-types: unexpected pbjs layout (namespace ${namespaceSeen}, ${opened} opened, ${closed} closed)`);
  }
  const anchor = out.findIndex((line) => line.startsWith('var $root = '));
  if (anchor < 0) throw new Error('lazy-protobuf-types: no `var $root =` line to put the helper after');
  out.splice(anchor + 1, 0, HELPER);
  return out.join('\n');
}
