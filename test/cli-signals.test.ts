import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort } from './helpers/broker.js';
import { canConnect, startArgs, untilListening, watchProcess } from '../kit/broker-process.js';

// Spawns broker processes: a generous bound for a shared, loaded 2-core machine.
t.setTimeout(600_000);

const tempDir = (prefix: string) => mkdtempSync(join(tmpdir(), prefix));

t.test('npm start under a process manager: SIGTERM to npm stops the broker, exit 0, port released', async (t) => {
  const port = await freePort();
  // Its own process group, so the teardown also reaches a broker that npm left behind.
  const npm = spawn('npm', ['start', '--silent', '--', ...startArgs(port, tempDir('relaymesh-npm-'))], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  t.teardown(() => {
    try {
      process.kill(-npm.pid!, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  });
  const broker = await untilListening(watchProcess(npm), port);
  npm.kill('SIGTERM');
  const exit = await broker.exited;
  t.same(exit, { code: 0, signal: null }, `npm exits 0 once the broker stopped cleanly\n${broker.output()}`);
  // npm waits for its script to end: the broker is gone too, not reparented and still serving.
  t.equal(await canConnect(port), false, 'nothing listens on the port any more');
});

/**
 * A module loader hook that holds `bin/relaymesh.js`'s first import until the test says go,
 * and says when it got there: a signal sent then arrives while the CLI is still loading.
 */
function holdFirstImport(dir: string): { importArg: string; reached: string; go: string } {
  const reached = join(dir, 'reached');
  const go = join(dir, 'go');
  const hooks = join(dir, 'hooks.mjs');
  writeFileSync(
    hooks,
    `import { existsSync, writeFileSync } from 'node:fs';
let held = false;
export async function resolve(specifier, context, next) {
  if (!held && context.parentURL?.endsWith('/bin/relaymesh.js')) {
    held = true;
    writeFileSync(${JSON.stringify(reached)}, specifier);
    const deadline = Date.now() + 60_000;
    while (!existsSync(${JSON.stringify(go)}) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }
  return next(specifier, context);
}
`,
  );
  const register = join(dir, 'register.mjs');
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
  return { importArg: pathToFileURL(register).href, reached, go };
}

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`${signal} while the CLI is still loading: the broker starts, then stops cleanly with exit 0`, async (t) => {
    const dir = tempDir('relaymesh-early-stop-');
    const port = await freePort();
    const hold = holdFirstImport(dir);
    const child = spawn(process.execPath, ['--import', hold.importArg, 'bin/relaymesh.js', 'start', ...startArgs(port, join(dir, 'data'))], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const watched = watchProcess(child);
    t.teardown(() => child.kill('SIGKILL'));
    await until(() => existsSync(hold.reached) || child.exitCode !== null, 'the CLI to start loading');
    t.equal(await canConnect(port), false, 'not listening yet');
    child.kill(signal);
    writeFileSync(hold.go, '');
    t.same(await watched.exited, { code: 0, signal: null }, `exit 0, not killed by the signal\n${watched.output()}`);
  });
}
