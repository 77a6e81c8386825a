// Builds dist/ from the sources (`npm run package`): the action's bundle (dist/index.js, what the
// runner executes) and the command line's (dist/cli/index.js), each with licenses.txt, the notices
// of every package it carries.
//
// esbuild, as ES modules split at each dynamic import(): a run loads only the chunks its path
// needs (the secrets path never loads ssh2 or the EC2 and SSM clients). Packages
// resolve to their ES module builds ("module" before "main"), so the AWS SDK's unused protocols,
// serializers and credential providers are shaken out instead of loaded whole, and the code is
// minified: the run starts by compiling what it loads (`npm run bench` measures it).
//   node scripts/build.js [--metafile <folder>]   (esbuild's metafile of each bundle, to see what
//                                                  a chunk holds: esbuild --analyze, or its viewer)
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))

/**
 * The bundles: entry points and output folder, relative to the repository. The action's main and
 * post steps (dist/index.js, dist/post.js) share their chunks.
 */
const BUNDLES = [
  { entries: ['src/index.ts', 'src/post.ts'], outdir: 'dist' },
  { entries: ['src/cli/index.ts'], outdir: 'dist/cli' }
]

// CommonJS code in the bundle (ssh2) calls require() and reads __dirname; an ES module has
// neither, so every output file defines them from its own URL.
const BANNER = [
  "import { createRequire as __createRequire } from 'node:module';",
  "import { dirname as __pathDirname } from 'node:path';",
  "import { fileURLToPath as __fileURLToPath } from 'node:url';",
  'const require = __createRequire(import.meta.url);',
  'const __filename = __fileURLToPath(import.meta.url);',
  'const __dirname = __pathDirname(__filename);'
].join(' ')

const metafileAt = process.argv.indexOf('--metafile')
const metafileFolder = metafileAt > 0 ? process.argv[metafileAt + 1] : undefined

const BUILTINS = new Set(builtinModules.flatMap(name => [name, `node:${name}`]))

/** `import("node:http")` and the like, in a package's code. */
const DYNAMIC_IMPORT = /\bimport\(\s*(["'])((?:node:)?[a-z0-9_/]+)\1\s*\)/g

/**
 * Node's built-in modules through require(), also where the code imports them: an `import` of a
 * built-in builds a namespace that reads every export, and node:http's lazy ones load Node's own
 * copy of undici (about 20 ms on Node 24) that nothing here uses. A static import becomes a
 * require() at load; a dynamic `import("node:http")` in a package becomes a promise of the same
 * module object, so that `const { request } = await import("node:http")` still finds it.
 * @type {esbuild.Plugin}
 */
const builtinsThroughRequire = {
  name: 'builtins-through-require',
  setup(build) {
    build.onResolve({ filter: /^(node:)?[a-z0-9_/]+$/ }, args => {
      if (!BUILTINS.has(args.path)) return undefined
      if (args.kind === 'require-call' || args.namespace === 'builtin') {
        return { path: args.path, external: true }
      }
      if (args.kind === 'dynamic-import') {
        // A chunk wrapping the module would export only `default`: fail rather than ship that.
        const text =
          `import("${args.path}") in ${args.importer}: import a built-in module statically ` +
          '(or, in a package, as import("node:name"), which the rewrite below turns into require())'
        return { errors: [{ text }] }
      }
      return { path: args.path, namespace: 'builtin' }
    })
    build.onLoad({ filter: /.*/, namespace: 'builtin' }, args => ({
      contents: `module.exports = require(${JSON.stringify(args.path)})`,
      loader: 'js'
    }))
    build.onLoad({ filter: /[\\/]node_modules[\\/].*\.m?js$/ }, args => {
      const source = readFileSync(args.path, 'utf8')
      if (!source.includes('import(')) return undefined
      let rewritten = false
      const contents = source.replace(DYNAMIC_IMPORT, (call, _quote, name) => {
        if (!BUILTINS.has(name)) return call
        rewritten = true
        return `Promise.resolve().then(() => require(${JSON.stringify(name)}))`
      })
      return rewritten ? { contents, loader: 'js' } : undefined
    })
  }
}

/**
 * The notices of every package whose code is in the bundle: each license text once, after the
 * packages (name@version) under it.
 * @param {esbuild.Metafile} metafile
 */
function licenses(metafile) {
  /** @type {Map<string, string>} package name -> its folder */
  const packages = new Map()
  for (const input of Object.keys(metafile.inputs)) {
    const match = /^(.*node_modules\/((?:@[^/]+\/)?[^/]+))\//.exec(input)
    if (match) packages.set(match[2], join(root, match[1]))
  }
  const notices = [...packages.keys()].sort().map(name => {
    const folder = /** @type {string} */ (packages.get(name))
    const { version, license } = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8'))
    const file = readdirSync(folder).find(entry => /^(licen[cs]e|copying)(\.|$)/i.test(entry))
    const text = file ? readFileSync(join(folder, file), 'utf8').trim() : undefined
    return { name, version, license: String(license), text }
  })
  // A package without a license file (the SDK's nested-clients) gets the text of its license from
  // another package under the same one.
  /** @type {Map<string, string>} license -> a text of it */
  const textOf = new Map()
  for (const { license, text } of notices)
    if (text && !textOf.has(license)) textOf.set(license, text)
  /** @type {Map<string, string[]>} license text -> the packages under it */
  const byText = new Map()
  for (const { name, version, license, text } of notices) {
    const shown = text ?? textOf.get(license) ?? `${license} (no license text found)`
    const label = `${name}@${version} (${license}${text ? '' : ', no license file of its own'})`
    byText.set(shown, [...(byText.get(shown) ?? []), label])
  }
  return [...byText].map(([text, names]) => `${names.join('\n')}\n\n${text}\n`).join('\n\n')
}

for (const { entries, outdir } of BUNDLES) {
  const out = join(root, outdir)
  // Chunk names change with their content: a chunk of an earlier build must not linger.
  if (existsSync(out)) {
    for (const name of readdirSync(out)) {
      if (/\.(js|txt|json)$/.test(name)) rmSync(join(out, name))
    }
  }
  mkdirSync(out, { recursive: true })
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: entries,
    outdir: out,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    mainFields: ['module', 'main'],
    conditions: ['module'],
    minify: true,
    legalComments: 'none',
    banner: { js: BANNER },
    // ssh2's optional native add-ons: without them it uses Node's crypto, as the bundle always did.
    external: ['*.node'],
    plugins: [builtinsThroughRequire],
    metafile: true,
    logLevel: 'warning'
  })
  writeFileSync(join(out, 'package.json'), '{\n  "type": "module"\n}\n')
  writeFileSync(join(out, 'licenses.txt'), licenses(result.metafile))
  if (metafileFolder) {
    mkdirSync(metafileFolder, { recursive: true })
    const name = `${outdir.replaceAll('/', '-')}.meta.json`
    writeFileSync(join(metafileFolder, name), JSON.stringify(result.metafile))
  }
}
