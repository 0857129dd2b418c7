import { Controller, Inject } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { GetCaCertificateV1, GetCertificateStatusV1, GetCrlV1, type RpcRequest, type RpcResponse } from '@thk/contracts';
import { CaQueries } from './ca-queries.service.js';

/** The CA's public material over request/reply, for the API gateway's `/v1/ca/*`. */
@Controller()
export class CaQueriesRpcController {
  constructor(@Inject(CaQueries) private readonly queries: CaQueries) {}

  @MessagePattern<string>(GetCaCertificateV1.subject)
  caCertificate(): RpcResponse<typeof GetCaCertificateV1> {
    return this.queries.caCertificate();
  }

  @MessagePattern<string>(GetCrlV1.subject)
  crl(): Promise<RpcResponse<typeof GetCrlV1>> {
    return this.queries.currentCrl();
  }

  @MessagePattern<string>(GetCertificateStatusV1.subject)
  status(@Payload() req: RpcRequest<typeof GetCertificateStatusV1>): Promise<RpcResponse<typeof GetCertificateStatusV1>> {
    return this.queries.status(req);
  }
}
