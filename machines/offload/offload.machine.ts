/**
 * The offload machine: ONE actor per NIC, because capacity is a per-NIC resource. For each SA
 * offered it decides offload or software from the gateway's FIPS mode, the NIC's trust setting,
 * its declared capabilities and the free capacity the log shows; ADD_SA to the NIC; falls back
 * to software on `unsupported`/`capacity` with the reason recorded; DELETE_SA when the SA goes.
 *
 * Every command goes through `decideNic`; the facts go to the journal, are emitted and folded
 * into `context.state`, so log and context cannot drift. Effects follow the facts that call for
 * them: `reportDecision` and `deleteFromNic` are named actions the runtime runs once those facts
 * are durable; ADD_SA and the NIC reset are named actors. All of them `.provide()`-able.
 *
 * Why ADD_SA precedes its fact (the one effect that does): the handle comes from the NIC, so
 * `NicSaAdded{saId, handle}` cannot be written before the NIC answers. The write-ahead guarantee
 * is kept where it matters — the handle reaches the data path only once `NicSaAdded` is durable —
 * and a crash in between leaves only an orphan SA in a NIC that is reset on every start.
 *
 * Restart: `restoring` routes on the folded state and records nothing; the actor then resets the
 * NIC (it is empty after a restart anyway, and a reset also clears such orphans) and records
 * `NicSaRemoved{reason: 'restart'}` for every SA the log says it held, reporting each as
 * `removed: 'restart'`. It re-offers nothing: keys never sit in the log, so the SA's own actor
 * offers again (with keys from the key store) if it still wants offload.
 */
import { enqueueActions, fromPromise, not, setup, stopChild } from 'xstate';
import { decideNic, evolveNic, initialNicState, NicRuleViolation, offloadVerdict, type NicCommand } from '../../engine/aggregates/nic.js';
import type { NicFact } from '../../engine/events/otherFacts.js';
import type { NicSaSpec, OffloadNic } from '../../adapters/nic/types.js';
import { parseIpAddress } from '../../engine/policy/ipText.js';
import type { Clock, Random } from '../ports.js';
import { addSaId, type AddSaOutput, type OffloadContext, type OffloadDecision, type OffloadEmitted, type OfferedSa, type OffloadEvent, type OffloadInput } from './types.js';

/** What the machine is closed over: time and ids for its facts, and the NIC its default effects use. */
export interface OffloadDeps {
  clock: Pick<Clock, 'now'>;
  random: Random;
  /** The NIC the default actors and effects talk to. */
  nic: Pick<OffloadNic, 'addSa' | 'deleteSa' | 'reset'>;
}

function address(text: string, argument: string): Uint8Array {
  const r = parseIpAddress(text);
  if (!r.ok) throw new RangeError(`${argument}: ${r.rule}`);
  return r.value;
}

/**
 * The NIC's view of an offered SA. Throws a RangeError naming the field when the SA cannot be
 * programmed at all (AH, ESP without encryption, an address that does not parse).
 *
 * @example
 * const [result] = await nic.addSa([toNicSaSpec(offer)]);
 */
export function toNicSaSpec(offer: OfferedSa): NicSaSpec {
  const p = offer.params;
  if (p.protocol !== 'esp') throw new RangeError('params.protocol: only ESP SAs are programmed into a NIC');
  if (p.encr === undefined) throw new RangeError('params.encr: an ESP SA names its encryption transform');
  return {
    id: offer.saId,
    direction: p.direction,
    spi: p.spi,
    mode: p.mode,
    suite: { encr: p.encr, integ: p.integ, ...(p.encrKeyBits !== undefined ? { encrKeyBits: p.encrKeyBits } : {}) },
    keys: offer.keys,
    esn: p.esn,
    replayWindow: p.replayWindow,
    dst: address(p.dst, 'params.dst'),
    ...(p.tunnel ? { tunnel: { src: address(p.tunnel.src, 'params.tunnel.src'), dst: address(p.tunnel.dst, 'params.tunnel.dst') } } : {}),
    ...(p.natT ? { natT: { srcPort: p.natT.srcPort, dstPort: p.natT.dstPort } } : {}),
    ...(offer.sequenceStart ? { sequenceStart: offer.sequenceStart } : {}),
    ...(offer.ttl !== undefined ? { ttl: offer.ttl } : {}),
    ...(offer.tfcPadTo !== undefined ? { tfcPadTo: offer.tfcPadTo } : {}),
  };
}

type Effect =
  | { type: 'journal'; params: { facts: NicFact[] } }
  | { type: 'reportDecision'; params: OffloadDecision }
  | { type: 'deleteFromNic'; params: { saId: string; handle: number } };

type DoneEvent = { type: `xstate.done.actor.${string}`; output: unknown; actorId?: string };
type ErrorEvent = { type: `xstate.error.actor.${string}`; error: unknown; actorId?: string };
const addOutput = (e: unknown): AddSaOutput | undefined => {
  const output = (e as DoneEvent).output as AddSaOutput | undefined;
  return output?.kind === 'addSa' ? output : undefined;
};
const errorActorId = ({ event }: { event: unknown }) => (event as ErrorEvent).actorId ?? (event as ErrorEvent).type.slice('xstate.error.actor.'.length);
const doneActorId = ({ event }: { event: unknown }) => (event as DoneEvent).actorId ?? (event as DoneEvent).type.slice('xstate.done.actor.'.length);
const addErrorSaId = (event: unknown): string | undefined => {
  const id = errorActorId({ event });
  return id.startsWith(addSaId('')) ? id.slice(addSaId('').length) : undefined;
};
const addAnswer = ({ event }: { event: unknown }): { command: NicCommand } => {
  const o = addOutput(event)!;
  return { command: o.handle !== null ? { type: 'RecordSaAdded', saId: o.saId, handle: o.handle } : { type: 'RejectSa', saId: o.saId, reason: o.reason ?? 'error' } };
};
const addFailure = ({ event }: { event: unknown }): { command: NicCommand } => ({ command: { type: 'RejectSa', saId: addErrorSaId(event)!, reason: 'error' } });

/** ADD_SA and the reset, as named actors (`.provide()`-able). */
function nicActors(nic: OffloadDeps['nic']) {
  return {
    addSa: fromPromise<AddSaOutput, { offer: OfferedSa }>(async ({ input, signal }) => {
      const [r] = await nic.addSa([toNicSaSpec(input.offer)]);
      // Withdrawn while the NIC was busy: nothing was recorded, so undo it here.
      if (signal.aborted && r?.handle) await nic.deleteSa(r.handle);
      return { kind: 'addSa', saId: input.offer.saId, handle: r?.handle ?? null, ...(r?.handle === null && r.reason ? { reason: r.reason } : {}) };
    }),
    resetNic: fromPromise<void>(() => nic.reset()),
  };
}
type NicActors = ReturnType<typeof nicActors>;
type Actors = { src: 'addSa'; logic: NicActors['addSa']; id: string | undefined } | { src: 'resetNic'; logic: NicActors['resetNic']; id: string | undefined };

/**
 * The machine, closed over time and randomness (the facts' `at` and ids) and the NIC.
 *
 * @example
 * const machine = createOffloadMachine({ clock, random, nic });
 * const actor = createActor(machine, { input: { nic: nic.name, capabilities: nic.capabilities, policy } }).start();
 * actor.send({ type: 'offload.offer', sa: offer });
 */
export function createOffloadMachine(deps: OffloadDeps) {
  const { clock, random, nic } = deps;
  return setup({
    types: {} as { context: OffloadContext; events: OffloadEvent; input: OffloadInput; emitted: OffloadEmitted },
    actors: nicActors(nic),
    actions: {
      record: enqueueActions<OffloadContext, OffloadEvent, { command: NicCommand }, OffloadEvent, never, Effect, never, never, OffloadEmitted>(({ context, enqueue }, { command }) => {
        let facts: NicFact[];
        try {
          facts = decideNic(command, context.state, { nowMs: clock.now(), newId: () => random.uuid() });
        } catch (e) {
          if (!(e instanceof NicRuleViolation)) throw e;
          enqueue.emit({ type: 'rejected', command: command.type, message: e.message });
          return;
        }
        if (facts.length === 0) return;
        enqueue.assign({ state: facts.reduce(evolveNic, context.state) });
        // A named action, not an emit: xstate defers emits past the other actions, and the facts
        // must reach the journal before the effects below wait for them.
        enqueue({ type: 'journal', params: { facts } });
        enqueue.emit({ type: 'facts', facts });
        const nicName = context.nic;
        for (const f of facts) {
          if (f.type === 'NicSaAdded') enqueue({ type: 'reportDecision', params: { saId: f.data.saId, nic: nicName, handle: f.data.handle } });
          if (f.type === 'NicSaRejected') enqueue({ type: 'reportDecision', params: { saId: f.data.saId, nic: nicName, reason: f.data.reason } });
          if (f.type !== 'NicSaRemoved' || f.data.reason === undefined) continue;
          const { saId, handle, reason } = f.data;
          if (reason === 'withdrawn') enqueue({ type: 'deleteFromNic', params: { saId, handle } });
          else enqueue({ type: 'reportDecision', params: { saId, nic: nicName, removed: reason } });
        }
      }),
      // One ADD_SA per SA in flight; a finished one is stopped so the SA can be offered again.
      programNic: enqueueActions<OffloadContext, OffloadEvent, undefined, OffloadEvent, Actors, never, never, never, OffloadEmitted>(({ event, enqueue, self }) => {
        if (event.type !== 'offload.offer') return;
        const id = addSaId(event.sa.saId);
        if (self.getSnapshot()?.children?.[id]) return;
        enqueue.spawnChild('addSa', { id, input: { offer: event.sa } });
      }),
      // Runtime-supplied (`.provide()`): journal the facts; report and delete once they are durable.
      journal: (_, _params: { facts: NicFact[] }) => {},
      reportDecision: (_, _decision: OffloadDecision) => {},
      deleteFromNic: (_, { handle }: { saId: string; handle: number }) => void nic.deleteSa(handle),
    },
    guards: {
      retired: ({ context }) => context.state.status === 'retired',
      offloaded: ({ context, event }) => event.type === 'offload.offer' && context.state.offloaded[event.sa.saId] !== undefined,
      staysInSoftware: ({ context, event }) => event.type === 'offload.offer' && offloadVerdict(event.sa.params, context.state, context.policy) !== undefined,
      addAnswered: ({ event }) => addOutput(event) !== undefined,
      addFailed: ({ event }) => addErrorSaId(event) !== undefined,
    },
  }).createMachine({
    id: 'offload',
    context: ({ input }) => ({ nic: input.nic, capabilities: input.capabilities, policy: input.policy, state: input.state ?? initialNicState }),
    initial: 'restoring',
    states: {
      // Routes on the folded state; records nothing (the rehydration entry point).
      restoring: { always: [{ guard: 'retired', target: 'retired' }, { target: 'resetting' }] },
      resetting: {
        // Offers meet a NIC being reset: software for now. An SA the log still lists is left to
        // the `removed: 'restart'` report that follows.
        on: { 'offload.offer': { guard: not('offloaded'), actions: { type: 'record', params: ({ event }) => ({ command: { type: 'RejectSa', saId: event.sa.saId, reason: 'error' } }) } } },
        invoke: {
          id: 'reset',
          src: 'resetNic',
          onDone: { target: 'ready', actions: { type: 'record', params: ({ context }) => ({ command: { type: 'StartNic', capabilities: context.capabilities } }) } },
          onError: { target: 'faulted', actions: { type: 'record', params: ({ context }) => ({ command: { type: 'StartNic', capabilities: context.capabilities } }) } },
        },
      },
      ready: {
        on: {
          'offload.offer': [
            // Already on the NIC: its handle again, no fact.
            { guard: 'offloaded', actions: { type: 'reportDecision', params: ({ context, event }) => ({ saId: event.sa.saId, nic: context.nic, handle: context.state.offloaded[event.sa.saId]!.handle }) } },
            { guard: 'staysInSoftware', actions: { type: 'record', params: ({ context, event }) => ({ command: { type: 'OfferSa', saId: event.sa.saId, params: event.sa.params, policy: context.policy } }) } },
            { actions: 'programNic' },
          ],
          // The NIC answered: a handle (recorded, then reported once durable), or software with
          // the NIC's reason (`error` when a refused batch of one gives none).
          'xstate.done.actor.*': { guard: 'addAnswered', actions: [stopChild(doneActorId), { type: 'record', params: addAnswer }] },
          'xstate.error.actor.*': { guard: 'addFailed', actions: [stopChild(errorActorId), { type: 'record', params: addFailure }] },
        },
      },
      // The reset failed: the NIC's state is unknown, so nothing goes to it until a retry works.
      faulted: {
        on: {
          'offload.offer': { actions: { type: 'record', params: ({ event }) => ({ command: { type: 'RejectSa', saId: event.sa.saId, reason: 'error' } }) } },
          'nic.retry': { target: 'resetting' },
        },
      },
      retiring: { invoke: { id: 'reset', src: 'resetNic', onDone: { target: 'retired' }, onError: { target: 'retired' } } },
      retired: { type: 'final' },
    },
    on: {
      'offload.withdraw': { actions: [stopChild(({ event }) => addSaId(event.saId)), { type: 'record', params: ({ event }) => ({ command: { type: 'WithdrawSa', saId: event.saId } }) }] },
      'nic.saLost': { actions: { type: 'record', params: ({ event }) => ({ command: { type: 'ReportSaLost', handle: event.handle } }) } },
      'nic.retire': { target: '.retiring', actions: { type: 'record', params: { command: { type: 'RetireNic' } } } },
    },
  });
}

/** The machine's type, for `.provide()` and `createActor`. */
export type OffloadMachine = ReturnType<typeof createOffloadMachine>;
