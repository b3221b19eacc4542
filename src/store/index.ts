export type * from './types.js';
export { StoreClosedError, StoreOpenError } from './errors.js';
export { openLmdbStore, type LmdbStoreOptions } from './lmdb-store.js';
export { STORE_FORMAT_VERSION } from './lmdb-environment.js';
