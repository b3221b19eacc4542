import type { IPublishPacket } from 'mqtt-packet';
import type { MessageProperties } from '../protocol/index.js';

type PublishProperties = NonNullable<IPublishPacket['properties']>;

/** The properties a message carries to its receivers, in a PUBLISH or a will (CONNECT). */
type CarriedProperties = Pick<PublishProperties, 'messageExpiryInterval' | 'contentType' | 'responseTopic' | 'correlationData' | 'payloadFormatIndicator' | 'userProperties'>;

/** The publication properties of an MQTT 5 PUBLISH or will that travel with the message (not a topic alias). */
export function fromMqttProperties(mqtt: CarriedProperties | undefined): MessageProperties | undefined {
  if (!mqtt) return undefined;
  const props: MessageProperties = {};
  if (mqtt.messageExpiryInterval !== undefined) props.expirySeconds = mqtt.messageExpiryInterval;
  if (mqtt.contentType !== undefined) props.contentType = mqtt.contentType;
  if (mqtt.responseTopic !== undefined) props.responseTopic = mqtt.responseTopic;
  if (mqtt.correlationData !== undefined) props.correlationData = mqtt.correlationData;
  if (mqtt.payloadFormatIndicator !== undefined) props.payloadFormat = mqtt.payloadFormatIndicator ? 1 : 0;
  if (mqtt.userProperties !== undefined) {
    // mqtt-packet groups repeated names into an array; the pairs keep their order within a name.
    props.userProperties = Object.entries(mqtt.userProperties).flatMap(([name, value]) =>
      (Array.isArray(value) ? value : [value]).map((v): [string, string] => [name, String(v)]),
    );
  }
  return Object.keys(props).length === 0 ? undefined : props;
}

/** The MQTT 5 PUBLISH properties for a message's properties (`expirySeconds` already what remains). */
export function toMqttProperties(props: MessageProperties): PublishProperties {
  const mqtt: PublishProperties = {};
  if (props.expirySeconds !== undefined) mqtt.messageExpiryInterval = props.expirySeconds;
  if (props.contentType !== undefined) mqtt.contentType = props.contentType;
  if (props.responseTopic !== undefined) mqtt.responseTopic = props.responseTopic;
  if (props.correlationData !== undefined) mqtt.correlationData = Buffer.from(props.correlationData.buffer, props.correlationData.byteOffset, props.correlationData.byteLength);
  if (props.payloadFormat !== undefined) mqtt.payloadFormatIndicator = props.payloadFormat === 1;
  if (props.userProperties !== undefined && props.userProperties.length > 0) {
    const grouped: Record<string, string | string[]> = {};
    for (const [name, value] of props.userProperties) {
      const known = grouped[name];
      grouped[name] = known === undefined ? value : Array.isArray(known) ? [...known, value] : [known, value];
    }
    mqtt.userProperties = grouped;
  }
  return mqtt;
}
