import { z } from 'zod';

/** Every persisted message travels in this envelope; `id` doubles as the JetStream `Nats-Msg-Id`. */
export const envelopeSchema = z.strictObject({
  id: z.uuid(),
  type: z.string().min(1).max(100),
  version: z.number().int().positive(),
  occurredAt: z.iso.datetime({ offset: true }),
  correlationId: z.string().min(1).max(200),
  causationId: z.string().min(1).max(200).nullable(),
  source: z.string().min(1).max(100),
  data: z.unknown(),
});

export type Envelope<TData = unknown> = Omit<z.infer<typeof envelopeSchema>, 'data'> & { data: TData };
