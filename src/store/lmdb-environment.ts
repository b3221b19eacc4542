import { closeSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { open, type RootDatabase } from 'lmdb';
import { StoreOpenError } from './errors.js';

/** Bump when the on-disk layout changes; a build refuses data of any other version. */
export const STORE_FORMAT_VERSION = 1;
/** The data file inside the store directory (a path with a '.' is a file to lmdb). */
export const STORE_FILE = 'store.mdb';
/** The named databases of one store. */
export const DB_NAMES = ['meta', 'entries', 'streams', 'cursors', 'sessions', 'sessionsByExpiry'] as const;

const FORMAT_KEY = 'formatVersion';
const LMDB_MAGIC = 0xbeefc0de;

/**
 * Opens (or creates) the LMDB environment of a store directory and checks its format version.
 * Any failure is a StoreOpenError, and nothing in the directory is changed or removed.
 */
export async function openEnvironment(dir: string, options: { separateFlushed: boolean }): Promise<RootDatabase> {
  prepareDirectory(dir);
  const file = join(dir, STORE_FILE);
  checkDataFile(dir, file);
  let root: RootDatabase;
  try {
    root = open(file, { maxDbs: DB_NAMES.length + 2, separateFlushed: options.separateFlushed });
  } catch (err) {
    throw new StoreOpenError(dir, `lmdb could not open ${STORE_FILE}: ${(err as Error).message}`, { cause: err });
  }
  try {
    await checkFormat(root, dir);
    return root;
  } catch (err) {
    await root.close();
    if (err instanceof StoreOpenError) throw err;
    throw new StoreOpenError(dir, (err as Error).message, { cause: err });
  }
}

function prepareDirectory(dir: string): void {
  try {
    if (statSync(dir).isDirectory()) return;
    throw new StoreOpenError(dir, 'the path exists and is not a directory');
  } catch (err) {
    if (err instanceof StoreOpenError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new StoreOpenError(dir, (err as Error).message, { cause: err });
  }
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new StoreOpenError(dir, `cannot create the directory: ${(err as Error).message}`, { cause: err });
  }
}

/** lmdb crashes the whole process on a file that is not LMDB's, so read the header first. */
function checkDataFile(dir: string, file: string): void {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new StoreOpenError(dir, `cannot read ${STORE_FILE}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const header = Buffer.alloc(32);
    const length = readSync(fd, header, 0, header.length, 0);
    if (length === 0) return; // created but never written: lmdb initializes it
    // The meta page's magic follows the page header: 16 bytes in LMDB 0.9, 24 in lmdb-js's LMDB.
    const magic = length >= 28 && (header.readUInt32LE(16) === LMDB_MAGIC || header.readUInt32LE(24) === LMDB_MAGIC);
    if (!magic) throw new StoreOpenError(dir, `${STORE_FILE} is not an LMDB data file`);
  } catch (err) {
    if (err instanceof StoreOpenError) throw err;
    throw new StoreOpenError(dir, `cannot read ${STORE_FILE}: ${(err as Error).message}`, { cause: err });
  } finally {
    closeSync(fd);
  }
}

async function checkFormat(root: RootDatabase, dir: string): Promise<void> {
  // Named databases are keys of the root database: anything else means another program's data.
  const names = Array.from(root.getKeys());
  const foreign = names.filter((name) => !(DB_NAMES as readonly unknown[]).includes(name));
  if (foreign.length > 0) {
    throw new StoreOpenError(dir, `${STORE_FILE} holds data that is not a relaymesh store (${foreign.slice(0, 3).map(String).join(', ')})`);
  }
  const meta = root.openDB<number, string>({ name: 'meta' });
  const version = meta.get(FORMAT_KEY);
  if (version === STORE_FORMAT_VERSION) return;
  if (version !== undefined) {
    throw new StoreOpenError(
      dir,
      `the data is in store format version ${String(version)}, this build reads version ${STORE_FORMAT_VERSION}; ` +
        'nothing was changed: use a build that reads it, or another directory',
    );
  }
  // No version yet: a new store, or one whose first start stopped before the version was written.
  const withData = DB_NAMES.filter((name) => name !== 'meta' && names.includes(name) && hasData(root, name));
  if (withData.length > 0) {
    throw new StoreOpenError(dir, `the store has data (${withData.join(', ')}) but no format version`);
  }
  await meta.put(FORMAT_KEY, STORE_FORMAT_VERSION);
  await root.flushed;
}

function hasData(root: RootDatabase, name: string): boolean {
  const db = root.openDB({ name });
  for (const _ of db.getKeys({ limit: 1 })) return true;
  return false;
}
