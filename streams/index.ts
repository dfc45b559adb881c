/** The data plane as RxJS operators (`ipsec-es/streams`). */
export { outbound, inbound, processOutbound, processInbound, processInboundBatch, type FilterHooks, type HookVerdict, type TransportInfo, type SaMissHandler } from './pipelines.js';
