import type { Model } from './engine.ts';

/** A model as stored in `identity_models.model`. */
export interface SerialisedModel {
  lambda: number;
  m: number[][];
  u: number[][];
  /** Values counted more than once; any other value occurred once. */
  tf: ({ counts: Record<string, number>; total: number } | null)[];
  /** See `Model.disagreement`; absent from models trained before it was measured. */
  disagreement?: Record<string, number | null>;
}

export function serialise(model: Model): SerialisedModel {
  return {
    lambda: model.lambda,
    m: model.m,
    u: model.u,
    tf: model.tf.map((tf) => {
      if (!tf) return null;
      const counts: Record<string, number> = {};
      for (const [value, n] of tf.counts) if (n > 1) counts[value] = n;
      return { counts, total: tf.total };
    }),
    ...(model.disagreement ? { disagreement: model.disagreement } : {}),
  };
}

export function deserialise(stored: SerialisedModel): Model {
  return {
    lambda: stored.lambda,
    m: stored.m,
    u: stored.u,
    tf: stored.tf.map((tf) => (tf ? { counts: new Map(Object.entries(tf.counts)), total: tf.total } : undefined)),
    ...(stored.disagreement ? { disagreement: stored.disagreement } : {}),
  };
}
