import { z } from 'zod';
import { temporaryHardwareKeyRequestBody } from '@thk/contracts';
import { apiRoutes, formTemporaryHardwareKeyBody } from '../http/api-routes.js';

/** Without descriptions: what a schema accepts. */
const acceptance = (schema: z.ZodType) => JSON.parse(JSON.stringify(z.toJSONSchema(schema), (key, value: unknown) => (key === 'description' ? undefined : value))) as unknown;

describe('the forming body', () => {
  it('is judged by issuance\'s lookup (contracts) exactly as the route validates it, so a seen key\'s body is never judged twice differently', () => {
    // The route table is what the gateway validates with (and documents): its forming route must carry the contract's schema.
    const forming = apiRoutes.find((r) => r.method === 'POST' && r.path === '/v1/keys/{keyId}/temporary-hardware-keys');
    expect(forming?.body).toBeDefined();
    expect(acceptance(temporaryHardwareKeyRequestBody)).toEqual(acceptance(forming!.body!));
    expect(acceptance(temporaryHardwareKeyRequestBody)).toEqual(acceptance(formTemporaryHardwareKeyBody));
  });
});
