/**
 * Training off the event loop: estimating a model from 200,000 records takes seconds of CPU, and
 * the hub's intake and API must keep answering meanwhile. Run as a worker thread by `trainModel`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Profile } from '../../mapping/profile.ts';
import type { IdentityConfig } from './config.ts';
import { engineFor } from './engine.ts';
import { serialise } from './model-json.ts';

const { config, fragments } = workerData as { config: IdentityConfig; fragments: string[] };
const engine = engineFor(config);
const profiles = fragments.map((f) => JSON.parse(f) as Profile);
const { model, pairs, expectedMatches } = engine.train(profiles);
parentPort?.postMessage({ model: serialise(model), pairs, expectedMatches });
