/**
 * The control plane (`ipsec-es/machines`): the gateway runtime and the xstate machines it runs,
 * one actor per SA, IKE SA, acquire, rekey and NIC, every transition a fact before an effect.
 */
import { Gateway, type GatewayOptions } from './gateway/gateway.js';

export { Gateway, type GatewayOptions, type SaInstallSpec } from './gateway/gateway.js';
export { UsageMeter, type UsageCrossing } from './gateway/usageMeter.js';
export type { Clock, Random, FactLog, MachineDeps, KeyManager, AcquireRequest, InstalledPair } from './ports.js';
export { Journal } from './journal.js';
export { createSaLifecycleMachine, SA_LIFECYCLE_DEFAULTS, type SaLifecycleOptions, type SaLifecycleEvent, type SaLifecycleInput } from './saLifecycle/saLifecycle.machine.js';
export { startSaActor, loadSa, type SaEffects, type SaActorOptions } from './saLifecycle/saActor.js';
export { createIkeSaLifecycleMachine, type IkeSaLifecycleEvent } from './ikeSa/ikeSaLifecycle.machine.js';
export { childRekeyMachine, type ChildRekeyInput } from './rekey/childRekey.machine.js';
export { RekeyCoordinator } from './rekey/rekeyCoordinator.js';
export { compareNonces, rekeyCollisionLoser } from './rekey/collision.js';
export { createAcquireMachine } from './acquire/acquireMachine.js';
export { AcquireManager, type AcquireManagerDeps, type AcquireManagerOptions } from './acquire/acquireManager.js';
export { createOffloadMachine } from './offload/offload.machine.js';
export { startOffloadActor, loadNic, type OffloadActor } from './offload/offloadActor.js';
export type { OfferedSa, OffloadDecision } from './offload/types.js';
export { manualKeying, RekeyCollision, type ManualKeyingSide, type ManualKeyingTemplate } from './keyManager/manualKeying.js';

/**
 * The one call for the common case (DESIGN §9): a gateway on the ports you hand it.
 *
 * @example
 * const gw = createGateway({ name: 'left', deps: { clock: systemClock, random: cryptoRandom, log: factLog(store) }, keys, spd });
 */
export function createGateway(options: GatewayOptions): Gateway {
  return new Gateway(options);
}
