import { Hono } from 'hono';
import type { AuthEnv } from '../access/auth.ts';
import { ApiError } from '../http/errors.ts';
import { describeRoute } from '../http/openapi.ts';
import { allow } from '../http/roles.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { describeModel, TrainingError, trainModel } from './live-model.ts';

describeRoute('GET /identity/model', {
  tag: 'Identity',
  audience: 'ops',
  summary: "The model in force: every field's levels with m, u and weight",
  responses: { 200: { description: 'the model', schema: { type: 'object' } } },
  errors: ['not_found'],
});
describeRoute('POST /identity/train', {
  tag: 'Identity',
  audience: 'ops',
  summary: 'Trains a model on the stored records now and puts it in force',
  responses: { 201: { description: 'the training summary', schema: { type: 'object' } } },
  errors: ['invalid_request'],
});

/**
 * The live identity model. Who may call: ops and admin (each route's `allow`).
 * - `GET /identity/model`: the model in force, every field's levels with m, u and weight.
 * - `POST /identity/train`: trains a model on the stored records now and puts it in force.
 */
export function identityRoutes(ctx: PipelineContext) {
  return new Hono<AuthEnv>()
    .get('/identity/model', allow('ops'), async (c) => {
      const identity = ctx.workspace().identity;
      const model = await describeModel(ctx.database.db, identity);
      if (!model) {
        throw new ApiError(
          'not_found',
          `no model is trained for the current identity configuration; arrivals are scored with the default model (identity.yaml's m, u and prior) until the hub holds ${identity.training.minRecords} records, or POST /identity/train`,
        );
      }
      return c.json(model);
    })
    .post('/identity/train', allow('ops'), async (c) => {
      try {
        const { summary } = await trainModel(ctx.database.db, ctx.workspace().identity, c.get('caller').name);
        ctx.models.invalidate();
        await ctx.modelTrained(summary.id);
        return c.json(summary, 201);
      } catch (error) {
        if (error instanceof TrainingError) throw new ApiError('invalid_request', error.message);
        throw error;
      }
    });
}
