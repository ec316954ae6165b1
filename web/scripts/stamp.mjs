// Writes dist/SOURCE_HASH: a hash of everything the build reads. The gateway's
// test suite computes the same hash over the sources and fails if the
// committed dist/ was built from other sources (run `npm run build`).
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const inputs = ["index.html", "package-lock.json", "tsconfig.json", "vite.config.ts", "src"];

function files(path) {
  const full = join(root, path);
  if (statSync(full).isDirectory()) {
    return readdirSync(full).flatMap((name) => files(join(path, name)));
  }
  return [path];
}

const all = inputs
  .flatMap(files)
  .filter((f) => !f.endsWith(".test.ts"))
  .map((f) => relative(root, join(root, f)).split("\\").join("/"))
  .sort();
const hash = createHash("sha256");
for (const f of all) {
  hash.update(f + "\n");
  hash.update(readFileSync(join(root, f)));
  hash.update("\n");
}
writeFileSync(join(root, "dist", "SOURCE_HASH"), hash.digest("hex") + "\n");
