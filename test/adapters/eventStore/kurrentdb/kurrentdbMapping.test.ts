/** The pure KurrentDB mapping: versions, positions, ids, events, errors. Always runs. */
import { describe, expect, it } from 'vitest';
import {
  DeadlineExceededError, StreamNotFoundError, UnavailableError, UnknownError, WrongExpectedVersionError,
} from '@kurrent/kurrentdb-client';
import type { AllStreamResolvedEvent } from '@kurrent/kurrentdb-client';
import { IpsecError } from '../../../../engine/errors.js';
import { StoreCorrupted, StoreUnavailable, StreamVersionConflict } from '../../../../adapters/eventStore/types.js';
import {
  ORIGINAL_ID_KEY, classifyError, currentStateToVersion, fromKurrentEvent, fromStreamState, toGlobalPosition, toKurrentEvent,
  toKurrentId, toReadPosition, toReadRevision, toStoreError, toStreamState, toVersion,
} from '../../../../adapters/eventStore/kurrentdb/kurrentdbMapping.js';

describe('kurrentdbMapping: versions and positions', () => {
  it('maps expected versions to 0-based revisions and back', () => {
    expect(toStreamState(1n)).toBe(0n);
    expect(toStreamState(42n)).toBe(41n);
    expect(toStreamState(0n)).toBe('no_stream');
    expect(toStreamState('noStream')).toBe('no_stream');
    expect(toStreamState('streamExists')).toBe('stream_exists');
    expect(toStreamState('any')).toBe('any');
    for (const ours of [1n, 42n, 'noStream', 'streamExists', 'any'] as const) expect(fromStreamState(toStreamState(ours))).toBe(ours);
    expect(toVersion(0n)).toBe(1n);
    expect(currentStateToVersion('no_stream')).toBe(0n);
    expect(currentStateToVersion(4n)).toBe(5n);
    expect(currentStateToVersion(undefined)).toBeUndefined();
  });

  it('reads a stream from 1-based versions', () => {
    expect(toReadRevision(0n)).toBe('start');
    expect(toReadRevision(1n)).toBe('start');
    expect(toReadRevision(5n)).toBe(4n);
  });

  it('uses commit position + 1 as the global position, and reads back from it', () => {
    expect(toGlobalPosition({ commit: 0n, prepare: 0n })).toBe(1n);
    expect(toGlobalPosition({ commit: 123_456n, prepare: 123_456n })).toBe(123_457n);
    expect(toReadPosition(0n)).toBe('start');
    expect(toReadPosition(123_457n)).toEqual({ commit: 123_456n, prepare: 123_456n });
  });
});

describe('kurrentdbMapping: events', () => {
  const ours = { id: 'sa-1/installed', type: 'SaInstalled', data: { spi: 1 }, metadata: { at: '2024-05-01T12:00:00.000Z', schemaVersion: 1 } };

  it('keeps UUID ids, and turns other ids into stable name-based UUIDs', () => {
    expect(toKurrentId('8F0B4E4C-1B7E-4C55-9A9F-0D6E0D0E8A11')).toBe('8f0b4e4c-1b7e-4c55-9a9f-0d6e0d0e8a11');
    const derived = toKurrentId('sa-1/installed');
    expect(derived).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(toKurrentId('sa-1/installed')).toBe(derived);
    expect(toKurrentId('sa-1/installed2')).not.toBe(derived);
  });

  it('writes JSON events carrying the original id, and reads them back as ours', () => {
    const written = toKurrentEvent(ours);
    expect(written).toEqual({
      id: toKurrentId(ours.id), contentType: 'application/json', type: 'SaInstalled', data: { spi: 1 },
      metadata: { ...ours.metadata, [ORIGINAL_ID_KEY]: ours.id },
    });
    const resolved = {
      event: {
        streamId: 'sa-1', id: written.id, revision: 0n, type: 'SaInstalled', isJson: true, created: new Date(0),
        data: { spi: 1 }, metadata: written.metadata, position: { commit: 999n, prepare: 999n },
      },
    } as AllStreamResolvedEvent;
    expect(fromKurrentEvent(resolved, true)).toEqual({ ...ours, streamName: 'sa-1', streamVersion: 1n, globalPosition: 1000n });
  });

  it('skips system streams and types in $all, unresolved links always, and decodes binary JSON', () => {
    const base = { id: '00000000-0000-4000-8000-000000000001', revision: 0n, isJson: true, created: new Date(0), data: {}, metadata: undefined, position: { commit: 1n, prepare: 1n } };
    expect(fromKurrentEvent({ event: { ...base, streamId: '$settings', type: 'x' } } as AllStreamResolvedEvent, true)).toBeUndefined();
    expect(fromKurrentEvent({ event: { ...base, streamId: 'sa-1', type: '$>' } } as AllStreamResolvedEvent, true)).toBeUndefined();
    expect(fromKurrentEvent({ event: { ...base, streamId: 'sa-1', type: '$>' } } as AllStreamResolvedEvent, false)).toBeDefined();
    expect(fromKurrentEvent({} as AllStreamResolvedEvent, true)).toBeUndefined();
    const binary = fromKurrentEvent({
      event: { ...base, streamId: 'sa-1', type: 'X', isJson: false, data: Buffer.from('{"a":1}'), metadata: Buffer.from('{"at":"t","schemaVersion":2}') },
    } as unknown as AllStreamResolvedEvent, true);
    expect(binary).toMatchObject({ id: base.id, data: { a: 1 }, metadata: { at: 't', schemaVersion: 2 } });
    expect(() => fromKurrentEvent({ event: { ...base, streamId: 'sa-1', type: 'X', position: undefined } } as unknown as AllStreamResolvedEvent, true))
      .toThrow(StoreCorrupted);
  });
});

describe('kurrentdbMapping: errors', () => {
  it('maps WrongExpectedVersionError to StreamVersionConflict in our numbering, with the cause', () => {
    const vendor = new WrongExpectedVersionError(undefined, { streamName: 'sa-1', expected: 2n, current: 4n });
    expect(classifyError(vendor)).toEqual({ kind: 'conflict', actual: 5n });
    const ours = toStoreError(vendor, { action: 'appending to stream sa-1', streamName: 'sa-1', expected: 3n });
    expect(ours).toBeInstanceOf(StreamVersionConflict);
    expect(ours).toMatchObject({ code: 'store.versionConflict', streamName: 'sa-1', expected: 3n, actual: 5n, cause: vendor });
    const none = new WrongExpectedVersionError(undefined, { streamName: 'sa-2', expected: 'stream_exists', current: 'no_stream' });
    expect(toStoreError(none, { action: 'x', streamName: 'sa-2', expected: 'streamExists' })).toMatchObject({ actual: 0n });
  });

  it('maps every shape of "server down" to StoreUnavailable with the cause and what to do', () => {
    const grpc = Object.assign(new Error('14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1.'), { code: 14, details: 'No connection established' });
    const cases = [grpc, new UnavailableError(), new DeadlineExceededError(), Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })];
    for (const vendor of cases) {
      expect(classifyError(vendor)).toEqual({ kind: 'unavailable' });
      const ours = toStoreError(vendor, { action: 'reading $all' });
      expect(ours).toBeInstanceOf(StoreUnavailable);
      expect(ours).toMatchObject({ code: 'store.unavailable', cause: vendor });
      expect(ours.message).toMatch(/^KurrentDB event store unavailable while reading \$all: .+; nothing was written by this call: check that the server is running/);
    }
  });

  it('recognises a missing stream, and leaves the rest as store.failed; our errors pass through', () => {
    expect(classifyError(new StreamNotFoundError(undefined, 'sa-1'))).toEqual({ kind: 'streamNotFound' });
    const unknown = new UnknownError(undefined, 'boom');
    const ours = toStoreError(unknown, { action: 'reading $all' });
    expect(ours).toBeInstanceOf(IpsecError);
    expect(ours).toMatchObject({ code: 'store.failed', cause: unknown });
    const conflict = new StreamVersionConflict('sa-1', 1n, 2n);
    expect(toStoreError(conflict, { action: 'x' })).toBe(conflict);
  });
});
