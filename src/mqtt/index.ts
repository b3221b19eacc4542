/** MQTT 3.1.1 and 5.0 devices on relaymesh: listeners and the gateway the broker wires in. */
export { MqttGateway, type MqttGatewayDeps } from './mqtt-gateway.js';
export { RetainedStore } from './retained-store.js';
export { SentHistory } from './sent-history.js';
export { SharedSubscriptions } from './shared-subscriptions.js';
export { mqttOverWebSocket } from './ws-listener.js';
export { startTcpListener, type TcpListener } from './tcp-listener.js';
