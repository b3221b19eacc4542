// Builds @relaymesh/client: ESM and CJS for Node and bundlers, a browser ESM bundle and a
// minified global build (window.Relaymesh), all with the protocol code and msgpackr inlined so
// the package needs nothing but `ws` (and that only in a Node without a global WebSocket);
// then the .d.ts files with tsc.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const here = new URL('.', import.meta.url).pathname;
process.chdir(here);
rmSync('dist', { recursive: true, force: true });

const common = { entryPoints: ['src/index.ts'], bundle: true, sourcemap: true, target: 'es2022', logLevel: 'warning', legalComments: 'none' };
// 'neutral' picks msgpackr's plain JS build (its 'node' one would want a native add-on).
const forNode = { ...common, platform: 'neutral', mainFields: ['module', 'main'], external: ['ws'] };
/** Browsers have a global WebSocket: the `ws` fallback becomes an empty module, so no Node import is reachable. */
const noWs = {
  name: 'no-ws',
  setup(b) {
    b.onResolve({ filter: /^ws$/ }, () => ({ path: 'ws', namespace: 'no-ws' }));
    b.onLoad({ filter: /.*/, namespace: 'no-ws' }, () => ({ contents: 'export default undefined;', loader: 'js' }));
  },
};
const forBrowser = { ...common, platform: 'browser', plugins: [noWs] };

await build({ ...forNode, format: 'esm', outfile: 'dist/index.js' });
await build({ ...forNode, format: 'cjs', outfile: 'dist/index.cjs' });
await build({ ...forBrowser, format: 'esm', minify: true, outfile: 'dist/relaymesh-client.browser.js' });
await build({ ...forBrowser, format: 'iife', globalName: 'Relaymesh', minify: true, outfile: 'dist/relaymesh-client.min.js' });

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { stdio: 'inherit' });

const gzipKb = (file) => (gzipSync(readFileSync(file)).length / 1024).toFixed(1);
console.log(`@relaymesh/client: browser bundle ${gzipKb('dist/relaymesh-client.min.js')} KB gzip (minified global), ESM ${gzipKb('dist/relaymesh-client.browser.js')} KB gzip`);
