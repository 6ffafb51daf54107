/**
 * A worker thread of `aurum resolve` (see resolve-pool.ts): it maps chunks of input records and
 * describes them for the engine, then compares its share of the candidate pairs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { mapRecord } from '../mapping/apply.ts';
import { comparePairs } from '../resolution/probabilistic/compare-pairs.ts';
import { blockedValues, loadIdentityConfig } from '../resolution/probabilistic/config.ts';
import { engineFor } from '../resolution/probabilistic/engine.ts';
import { FeatureTable } from '../resolution/probabilistic/feature-table.ts';
import { loadWorkspace } from '../workspace/workspace.ts';
import { ChunkPacker, type MappedChunk, type ThreadRequest } from './resolve-pool.ts';

const { configDir, defaultRegion } = workerData as { configDir: string; defaultRegion: string | undefined };
const workspace = loadWorkspace(configDir, process.env, { requireEnv: false });
const identity = loadIdentityConfig(configDir);
const engine = engineFor(identity);
const blocked = blockedValues(identity.blockedValues);
const port = parentPort;
let table: FeatureTable | undefined;

async function handle(request: ThreadRequest): Promise<void> {
  if (request.type === 'map') {
    const receivedAt = new Date(request.receivedAt);
    const packer = new ChunkPacker();
    const chunkFailures: MappedChunk['failures'] = [];
    for (const [i, given] of request.payloads.entries()) {
      const rawId = request.firstRawId + i;
      let payload = given;
      if (typeof given === 'string') {
        try {
          payload = JSON.parse(given);
        } catch {
          port?.postMessage({ ...new ChunkPacker().pack(request.seq, []), invalidJson: i } satisfies MappedChunk);
          return;
        }
      }
      const { fragments, failures } = await mapRecord(
        { id: rawId, source: request.source, receivedAt, contentHash: '', payload },
        workspace.mappings,
        { defaultRegion, blockedValues: blocked },
      );
      // Batch resolution clusters persons; accounts are resolved by the hub, within their own type.
      for (const f of fragments) if (f.entity === 'person') packer.add(f.recordId, engine.describe(f.profile));
      for (const f of failures) chunkFailures.push({ rawId, mappingFile: f.mappingFile, code: f.code, message: f.message });
    }
    const chunk = packer.pack(request.seq, chunkFailures);
    port?.postMessage(chunk, [chunk.lengths.buffer as ArrayBuffer, chunk.counts.buffer as ArrayBuffer]);
  } else if (request.type === 'table') {
    table = new FeatureTable(request.data);
  } else if (request.type === 'count-levels') {
    if (!table) throw new Error('count-levels before the feature table arrived');
    port?.postMessage({ seq: request.seq, levelCounts: engine.countLevels(table, request.sample) });
  } else {
    if (!table) throw new Error('compare before the feature table arrived');
    const counts = comparePairs(engine, table, request.pairs, request.rulesOf);
    port?.postMessage({ seq: request.seq, counts }, [counts.patternOf.buffer as ArrayBuffer]);
  }
}

// One request at a time, in order: mapping awaits JSONata, and a chunk must not overtake another.
let queue = Promise.resolve();
port?.on('message', (request: ThreadRequest) => {
  queue = queue.then(() => handle(request));
});
