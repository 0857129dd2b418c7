import { Counter } from 'prom-client';
import { metricsRegistry, registeredMetric } from '@thk/service-kit';

/** A counter on the service's `/metrics`, shared by every gateway started in this process (tests restart it). */
function counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
  return registeredMetric(name, () => new Counter({ name, help, labelNames, registers: [metricsRegistry] }));
}

export const caMetrics = {
  issued: counter('ca_certificates_issued_total', 'Certificates issued, by profile', ['profile'] as const),
  rejected: counter('ca_certificates_rejected_total', 'IssueCertificate requests refused, by code', ['code'] as const),
  revoked: counter('ca_certificates_revoked_total', 'Certificates revoked, by reason', ['reason'] as const),
};
