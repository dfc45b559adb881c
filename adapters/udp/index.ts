/**
 * The UDP adapter (DESIGN §5): the `DatagramBind` port for ESP-in-UDP and IKE on port 4500
 * (RFC 3948), its node:dgram implementation, its in-memory twin, the raw ESP option, and the
 * glue between the engine's IP datagrams and a bind.
 *
 * @example
 * import { udpBind, udpWire } from './adapters/udp/index.js';
 * const wire = udpWire({ bind: await udpBind({ address: '192.0.2.1' }), onDatagrams: (batch) => inbound(batch) });
 */
export type { Datagram, DatagramBind, DatagramBindCounters, DatagramBindEvent, Endpoint, RawEspBindOptions, SocketBufferSize, UdpBindOptions } from './types.js';
export { udpBind, DEFAULT_SOCKET_BUFFER, type UdpBind } from './udpBind.js';
export { rawEspBind, rawEspWire, isRawEspBind, rawEspDatagramOf, rawIpDatagramOf, RAW_ESP_ADDON_PATH, type RawEspBind, type RawEspDatagram, type RawEspWire, type RawEspWireCounters, type RawEspWireOptions } from './rawEspBind.js';
export { nativeUdpBind, NATIVE_UDP_ADDON_PATH, type NativeUdpBind } from './nativeUdpBind.js';
export { memoryBindPair, type MemoryBind, type MemoryBindOptions } from './memoryBind.js';
export { udpWire, wireDatagramOf, ipDatagramOf, toWire, fromWire, decapsulateEspInUdp, addressBytes, IKE_HEADER, type EspInUdp, type UdpWire, type UdpWireCounters, type UdpWireOptions } from './wire.js';
