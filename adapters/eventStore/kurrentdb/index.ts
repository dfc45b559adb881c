/**
 * `ipsec-es/adapters/kurrentdb`: the KurrentDB event store (needs `@kurrent/kurrentdb-client`).
 *
 * @example
 * import { kurrentdbEventStore } from 'ipsec-es/adapters/kurrentdb';
 * const store = kurrentdbEventStore({ connectionString: 'kurrentdb://localhost:2113?tls=false' });
 */
export { kurrentdbEventStore } from './kurrentdbEventStore.js';
export type { KurrentClientLike, KurrentSubscriptionLike, KurrentdbEventStoreOptions } from './kurrentdbEventStore.js';
