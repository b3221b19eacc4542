export * from './server.js';
export * from './socket-connection.js';
export { isUwsNative, loadUws } from './uws.js';
