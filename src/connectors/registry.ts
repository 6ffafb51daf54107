import { fileConnector } from './file/index.ts';
import { hubspotConnector } from './hubspot/index.ts';
import { intercomConnector } from './intercom/index.ts';
import { mailchimpConnector } from './mailchimp/index.ts';
import { odooConnector } from './odoo/index.ts';
import { stripeConnector } from './stripe/index.ts';
import type { ConnectorType } from './types.ts';
import { webhookConnector } from './webhook/index.ts';
import { zendeskConnector } from './zendesk/index.ts';

/** Every connector type the hub knows, by the `type:` an ops engineer writes in YAML. */
export const connectorTypes: ReadonlyMap<string, ConnectorType<never>> = new Map(
  [
    webhookConnector,
    fileConnector,
    stripeConnector,
    hubspotConnector,
    zendeskConnector,
    intercomConnector,
    mailchimpConnector,
    odooConnector,
  ].map((c) => [c.type, c as ConnectorType<never>]),
);
