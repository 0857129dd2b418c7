import { Histogram } from 'prom-client';
import { metricsRegistry } from '@thk/service-kit';

/** A histogram on the service's `/metrics`, shared by every accounts service started in this process (tests start several). */
function histogram(name: string, help: string, buckets: number[]): Histogram {
  return (metricsRegistry.getSingleMetric(name) as Histogram | undefined) ?? new Histogram({ name, help, buckets, registers: [metricsRegistry] });
}

export const accountsMetrics = {
  /** The depository's KDF itself, per password tried (its wait for a slot of the pool not included). */
  kdfSeconds: histogram('accounts_kdf_seconds', 'Time in the depository\'s KDF per password tried, excluding the wait for a pool slot', [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1, 1.5, 2, 3]),
};
