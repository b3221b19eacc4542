export * from './errors.js';
export * from './frames.js';
export * from './codec.js';
export * from './versions.js';
export * from './topics.js';
export * from './ports.js';
export * from './registry.js';
export * from './topic-trie.js';
