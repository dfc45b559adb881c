import { memoryEventStore } from '../../../../adapters/eventStore/memory/memoryEventStore.js';
import { eventStoreContract } from '../../../contracts/eventStore.contract.js';

eventStoreContract('memory', async () => {
  const store = memoryEventStore();
  return { store, cleanup: () => store.close() };
});
