import type { ConnectorType } from '../types.ts';

/**
 * A source fed by files (`aurum resolve --input SOURCE=FILE`), not by webhooks: it has no secret,
 * so its webhook endpoint accepts nothing.
 */
export const fileConnector: ConnectorType<Record<string, never>> = {
  type: 'file',
  configSchema: { type: 'object', properties: {} },
  async verifyWebhook() {
    return { ok: false, code: 'secret_missing', message: 'a file source takes no webhooks' };
  },
};
