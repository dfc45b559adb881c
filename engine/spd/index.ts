/**
 * The Security Policy Database (RFC 4301 §4.4.1): selectors, policies, packet classification
 * and the inbound policy check. `engine/index.ts` re-exports this.
 */
export * from './types.js';
export { Spd, type SpdOptions, type SpdPart, type InboundCheck } from './spd.js';
export type { ClassifierStats } from './classifier.js';
export { selectorFields, selectorFieldsOfIp, hasPorts, IPPROTO_DCCP, IPPROTO_SCTP, IPPROTO_UDPLITE } from './selectorFields.js';
export { validatePolicy, validatePolicies, validateSelector, validateProtect, addressFamilyLength } from './validate.js';
export { addressMatches, selectorMatches, policyMatches } from './match.js';
