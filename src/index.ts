/** relaymesh public API: embed a broker, or connect to one. */
export { createBroker, type Broker, type DeviceInfo, type PublishOptions } from './broker/broker.js';
export { OptionsError, type BrokerOptions } from './broker/options.js';
export { DataDirLockedError } from './broker/ops/data-dir-lock.js';
export { PortInUseError } from './broker/ops/port-check.js';
export type { AuthGrant, Authenticator, AuthResult, Credentials } from './broker/auth/index.js';
export { isUwsNative } from './transport/index.js';
export * from './protocol/index.js';
