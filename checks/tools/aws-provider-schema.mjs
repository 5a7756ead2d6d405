// Reads the AWS provider's schema out of the npm package @cdktf/provider-aws (code generated
// from the provider's own schema) and prints, as JSON, the arguments and nested blocks of the
// resource types, data sources and the provider block named on the command line.
//
// Usage: node aws-provider-schema.mjs PACKAGE_LIB_DIR TYPE...
//   TYPE is `resource.aws_x`, `data.aws_x` or `provider.aws`.
// Output: {"resource.aws_x": {"dir": "x", "arguments": [..], "blocks": {"name": {..same..}}}}
//   and "missing": [types the package does not have].
//
// How: every generated class has `X.tfResourceType = "aws_x"` and a `synthesizeHclAttributes()`
// listing each argument as `name: { value: ..., isBlock: true|false, ... }`; a nested block's
// value calls its own generated `fooToHclTerraform(struct)` function, which lists the block's
// arguments the same way. Nothing here runs the package's code.
import fs from 'node:fs';
import path from 'node:path';

const [lib, ...wanted] = process.argv.slice(2);
if (!lib || wanted.length === 0) {
  console.error('usage: node aws-provider-schema.mjs PACKAGE_LIB_DIR TYPE...');
  process.exit(64);
}

const ENTRY = /^\s+(\w+): \{\n\s+value: ([^\n]*),\n\s+isBlock: (true|false),/gm;
// A generated function called from a value (cdktf's own helpers are `cdktf.xxx`).
const NESTED = /(?<![.\w])([a-z]\w*)ToHclTerraform\b/;

function entries(body) {
  return [...body.matchAll(ENTRY)].map((m) => {
    const nested = m[2].match(NESTED);
    return { name: m[1], block: m[3] === 'true', fn: nested ? nested[1] : null };
  });
}

// Every file of one package directory: index.js and its index-structs/*.js.
function files(dir) {
  const out = [path.join(dir, 'index.js')];
  const structs = path.join(dir, 'index-structs');
  if (fs.existsSync(structs)) {
    for (const f of fs.readdirSync(structs).sort()) if (f.endsWith('.js')) out.push(path.join(structs, f));
  }
  return out.filter((f) => fs.existsSync(f));
}

// Type name -> package directory, read from each directory's index.js.
const dirs = new Map();
for (const dir of fs.readdirSync(lib).sort()) {
  const index = path.join(lib, dir, 'index.js');
  if (!fs.existsSync(index)) continue;
  const src = fs.readFileSync(index, 'utf8');
  const ty = src.match(/^\w+\.tfResourceType = "(\w+)";/m);
  if (!ty) continue;
  const kind = ty[1] === 'aws' ? 'provider' : /extends cdktf\.TerraformDataSource/.test(src) ? 'data' : 'resource';
  dirs.set(`${kind}.${ty[1]}`, dir);
}

const result = {};
const missing = [];
for (const type of wanted) {
  const dir = dirs.get(type);
  if (!dir) {
    missing.push(type);
    continue;
  }
  const fns = new Map();
  let top = null;
  for (const f of files(path.join(lib, dir))) {
    const src = fs.readFileSync(f, 'utf8');
    for (const m of src.matchAll(/^function (\w+)ToHclTerraform\(struct\) \{\n([\s\S]*?)\n\}\n/gm)) {
      fns.set(m[1], entries(m[2]));
    }
    const body = src.match(/\n {4}synthesizeHclAttributes\(\) \{\n([\s\S]*?)\n {4}\}\n/);
    if (body && f.endsWith('index.js')) top = entries(body[1]);
  }
  if (!top) {
    missing.push(type);
    continue;
  }
  // Nested blocks can nest deeply (and some schemas are recursive): stop at a depth no
  // configuration of ours reaches.
  const build = (list, depth) => {
    const node = { arguments: [], blocks: {} };
    for (const e of list) {
      if (e.block && e.fn && fns.has(e.fn) && depth < 12) node.blocks[e.name] = build(fns.get(e.fn), depth + 1);
      else if (e.block) node.blocks[e.name] = { arguments: [], blocks: {}, opaque: true };
      else node.arguments.push(e.name);
    }
    return node;
  };
  result[type] = { dir, ...build(top, 0) };
}
console.log(JSON.stringify({ types: result, missing }));
