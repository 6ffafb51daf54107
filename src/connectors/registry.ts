import { fileConnector } from './file/index.ts';
import type { ConnectorType } from './types.ts';
import { webhookConnector } from './webhook/index.ts';

/** Every connector type the hub knows, by the `type:` an ops engineer writes in YAML. */
export const connectorTypes: ReadonlyMap<string, ConnectorType<never>> = new Map(
  [webhookConnector, fileConnector].map((c) => [c.type, c as ConnectorType<never>]),
);
