import { Module, type DynamicModule } from '@nestjs/common';
import { HealthModule } from '@thk/service-kit';
import { HardwareKeyProcessManager } from './hardware-key/hardware-key.process-manager.js';
import { HardwareKeyRpcController } from './hardware-key/hardware-key.rpc.controller.js';
import { RequestHardwareKeyService } from './hardware-key/request-hardware-key.service.js';
import { SagaEventsController } from './hardware-key/saga-events.message.controller.js';
import { PreviewValidityService } from './validity/preview-validity.service.js';
import { ValidityRpcController } from './validity/validity.rpc.controller.js';

/** The service objects, built by `startIssuance` (plain classes: easy to build in tests too). */
export interface IssuanceServices {
  sagas: HardwareKeyProcessManager;
  requests: RequestHardwareKeyService;
  previews: PreviewValidityService;
}

const controllers = [ValidityRpcController, HardwareKeyRpcController, SagaEventsController];

@Module({})
export class IssuanceModule {
  static register(services: IssuanceServices): DynamicModule {
    return {
      module: IssuanceModule,
      imports: [HealthModule],
      controllers,
      providers: [
        { provide: HardwareKeyProcessManager, useValue: services.sagas },
        { provide: RequestHardwareKeyService, useValue: services.requests },
        { provide: PreviewValidityService, useValue: services.previews },
      ],
    };
  }
}
