import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { HealthModule } from '@thk/service-kit';
import { CaHttpController, PkiHttpController } from './ca/ca.http.controller.js';
import { DevHttpController } from './dev/dev.http.controller.js';
import { GATEWAY, type GatewayContext } from './gateway.context.js';
import { HardwareKeyRequestsHttpController } from './hardware-key-requests/hardware-key-requests.http.controller.js';
import { KeysHttpController } from './keys/keys.http.controller.js';
import { OpenApiHttpController } from './openapi/openapi.http.controller.js';
import { TemporaryHardwareKeysHttpController } from './temporary-hardware-keys/temporary-hardware-keys.http.controller.js';
import { TokensHttpController } from './tokens/tokens.http.controller.js';

const apiControllers: Type<unknown>[] = [
  KeysHttpController,
  TemporaryHardwareKeysHttpController,
  TokensHttpController,
  HardwareKeyRequestsHttpController,
  CaHttpController,
  PkiHttpController,
  OpenApiHttpController,
];

@Module({})
export class ApiGatewayModule {
  static forRoot(context: GatewayContext): DynamicModule {
    const devControllers = context.config.auth.mode === 'dev' ? [DevHttpController] : [];
    return {
      module: ApiGatewayModule,
      imports: [HealthModule],
      controllers: [...apiControllers, ...devControllers],
      providers: [{ provide: GATEWAY, useValue: context }],
    };
  }
}
