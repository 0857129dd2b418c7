import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { HealthModule } from '@thk/service-kit';
import { CertifyCloudKeyRpcController } from './cloud-keys/certify-cloud-key.rpc.controller.js';
import { CertifyCloudKeyService } from './cloud-keys/certify-cloud-key.service.js';
import { IssueCertificateMessageController } from './issuance/issue-certificate.message.controller.js';
import { IssueCertificateService } from './issuance/issue-certificate.service.js';
import { CaQueriesRpcController } from './queries/ca-queries.rpc.controller.js';
import { CaQueries } from './queries/ca-queries.service.js';
import { RevokeCertificateMessageController } from './revocation/revoke-certificate.message.controller.js';
import { RevokeCertificateService } from './revocation/revoke-certificate.service.js';

/** The service objects, built once by `startCaGateway` (plain classes: testable without Nest). */
export interface CaGatewayServices {
  issue: IssueCertificateService;
  revoke: RevokeCertificateService;
  queries: CaQueries;
  cloudKeys: CertifyCloudKeyService;
}

const controllers = [IssueCertificateMessageController, RevokeCertificateMessageController, CaQueriesRpcController, CertifyCloudKeyRpcController];

@Module({})
export class CaGatewayModule {
  static register(services: CaGatewayServices): DynamicModule {
    const providers: Provider[] = [
      { provide: IssueCertificateService, useValue: services.issue },
      { provide: RevokeCertificateService, useValue: services.revoke },
      { provide: CaQueries, useValue: services.queries },
      { provide: CertifyCloudKeyService, useValue: services.cloudKeys },
    ];
    return { module: CaGatewayModule, imports: [HealthModule], controllers, providers };
  }
}
