/** PF_KEY v2 (RFC 2367, Linux/KAME extensions): codec, layouts and the key-management endpoint. */
export * from './constants.js';
export * from './types.js';
export * from './layout.js';
export { encodePfKey } from './encode.js';
export { decodePfKey, type DecodeOptions } from './decode.js';
export { inet, inet6, sockaddrLength } from './sockaddr.js';
export * from './algorithms.js';
export { keyOf, toSaLifetimes, type PfKeyLifetime, type PfKeyProtocol, type PfKeySa, type PfKeyUsage, type SadPort, type SadPortResult, type SaKey } from './sadPort.js';
export { memorySadPort, type MemorySadPort } from './memorySadPort.js';
export { saFromRequest, saExtensions, type SaExtOptions } from './saMessages.js';
export * from './endpoint.js';
