import { MemoryStore } from 'sagaflow';
import { describeStoreConformance } from './store-conformance.js';

describeStoreConformance('MemoryStore', () => Promise.resolve({ store: new MemoryStore() }));
