// Copies the browser libraries the app serves from node_modules into the folders it serves them
// from (each gitignored), each with its licence. Run after `npm ci`:
//
//   npm ci --prefix web --ignore-scripts --no-audit --no-fund && node web/copy.mjs
//
// Only what the pages load is copied:
// - the map view (server/mapview/static/vendor/): MapLibre's ES module, its worker and CSS;
//   graphql-ws's browser client (an ES module importing one sibling chunk, whose hashed name
//   changes between versions, hence the pattern);
// - the API reference (server/reference/static/vendor/): Swagger UI's bundle and CSS;
// - the OGC API's HTML pages (server/ogc/static/vendor/, pygeoapi's templates as OneMap
//   overrides them in server/ogc/templates/): Bootstrap's CSS, Leaflet (with its marker and
//   control images, a sub-folder) and Leaflet.markercluster.
//
// The devDependencies (openapi-typescript, typescript) are tools the tests run from
// web/node_modules/.bin; nothing of them is copied.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");
const server = join(here, "..", "server");

const targets = {
  [join(server, "mapview", "static", "vendor")]: {
    "maplibre-gl": {
      from: "dist",
      files: [/^maplibre-gl\.mjs$/, /^maplibre-gl-worker\.mjs$/, /^maplibre-gl\.css$/],
      licence: "LICENSE.txt",
    },
    "graphql-ws": { from: "dist", files: [/^client\.js$/, /^common-[\w-]+\.js$/], licence: "LICENSE.md" },
  },
  [join(server, "reference", "static", "vendor")]: {
    "swagger-ui-dist": {
      from: ".",
      files: [/^swagger-ui-bundle\.js$/, /^swagger-ui\.css$/, /^favicon-32x32\.png$/, /^NOTICE$/],
      licence: "LICENSE",
    },
  },
  [join(server, "ogc", "static", "vendor")]: {
    bootstrap: { from: "dist/css", files: [/^bootstrap\.min\.css(\.map)?$/], licence: "LICENSE" },
    leaflet: {
      from: "dist",
      files: [/^leaflet\.js(\.map)?$/, /^leaflet\.css$/],
      dirs: { images: [/\.png$/] },
      licence: "LICENSE",
    },
    "leaflet.markercluster": {
      from: "dist",
      files: [/^leaflet\.markercluster\.js(\.map)?$/, /^MarkerCluster(\.Default)?\.css$/],
      licence: "MIT-LICENCE.txt",
    },
  },
};

const copied = [];
for (const [vendor, packages] of Object.entries(targets)) {
  rmSync(vendor, { recursive: true, force: true });
  const versions = {};
  for (const [name, spec] of Object.entries(packages)) {
    const root = join(modules, name);
    const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    const out = join(vendor, name);
    mkdirSync(out, { recursive: true });
    const available = readdirSync(join(root, spec.from));
    for (const pattern of spec.files) {
      const found = available.filter((f) => pattern.test(f));
      if (found.length === 0) throw new Error(`${name}@${manifest.version}: nothing matches ${pattern}`);
      for (const file of found) copyFileSync(join(root, spec.from, file), join(out, file));
    }
    // Sub-folders a library's CSS refers to (Leaflet's images/), copied as they are named.
    for (const [dir, patterns] of Object.entries(spec.dirs ?? {})) {
      const inner = readdirSync(join(root, spec.from, dir));
      mkdirSync(join(out, dir), { recursive: true });
      for (const pattern of patterns) {
        const found = inner.filter((f) => pattern.test(f));
        if (found.length === 0) throw new Error(`${name}: nothing in ${dir} matches ${pattern}`);
        for (const file of found) copyFileSync(join(root, spec.from, dir, file), join(out, dir, file));
      }
    }
    if (!existsSync(join(root, spec.licence))) throw new Error(`${name}: no ${spec.licence}`);
    copyFileSync(join(root, spec.licence), join(out, "LICENSE"));
    versions[name] = manifest.version;
    copied.push(`${name}@${manifest.version}`);
  }
  // The app reads this to say which versions it serves (and that the copy step ran).
  writeFileSync(join(vendor, "versions.json"), JSON.stringify(versions, null, 2) + "\n");
}
console.log(`copied ${copied.join(", ")}`);
