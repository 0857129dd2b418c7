import { Histogram } from 'prom-client';
import { metricsRegistry, registeredMetric } from '@thk/service-kit';

/** On the service's `/metrics`, shared by every accounts service started in this process (tests start several). */
export const accountsMetrics = {
  /** The depository's KDF itself, per password tried (its wait for a slot of the pool not included). */
  kdfSeconds: registeredMetric('accounts_kdf_seconds', () => new Histogram({
    name: 'accounts_kdf_seconds', help: 'Time in the depository\'s KDF per password tried, excluding the wait for a pool slot',
    buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1, 1.5, 2, 3], registers: [metricsRegistry],
  })),
};
