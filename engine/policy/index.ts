/**
 * `engine/policy`: XML policy files (schema/ipsec-es-policy.xsd), whose structure follows
 * RFC 9061 (`ietf-i2nsf-ikeless` SPD/SAD, `ietf-i2nsf-ike` PAD and connections). Pure: text in,
 * typed document or positioned errors out; the file loader lives in adapters/policyFile.
 */
export * from './model.js';
export { parsePolicyXml, formatPolicyErrors } from './parsePolicyXml.js';
export { serializePolicyXml } from './serializePolicyXml.js';
export { toPolicies, fromPolicies, toStaticSas, type StaticSaSpec, type KeyMaterial } from './toPolicies.js';
export {
  espSuiteByName,
  espSuiteName,
  ahIntegByName,
  ahIntegName,
  ESP_SUITE_NAMES,
  AH_INTEG_NAMES,
} from './suiteNames.js';
export { ikeProposalProblem } from './parseIke.js';
export { parseIpAddress, formatIpAddress, parsePrefix, formatPrefix, type IpPrefix } from './ipText.js';
