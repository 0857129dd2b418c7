import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { HealthModule } from '@thk/service-kit';
import { AgentInventoryMessageController } from './agents/agent-inventory.message.controller.js';
import { AgentRegistry } from './agents/agent-registry.service.js';
import { AgentsRpcController } from './agents/agents.rpc.controller.js';
import { DepositoryRpcController } from './depository/depository.rpc.controller.js';
import { Depository } from './depository/depository.service.js';
import { TemporaryKeyAuthorizer } from './depository/temporary-key-authorization.service.js';
import { DevUsersRpcController } from './dev-users/dev-users.rpc.controller.js';
import { DevUsers } from './dev-users/dev-users.service.js';
import { HardwareKeyEvents } from './keys/hardware-key-events.service.js';
import { KeyEventsMessageController } from './keys/key-events.message.controller.js';
import { KeyLifecycle } from './keys/key-lifecycle.service.js';
import { KeyQueries } from './keys/key-queries.service.js';
import { KeysRpcController } from './keys/keys.rpc.controller.js';

/** The service objects, built once by `startAccounts` (plain classes: testable without Nest). */
export interface AccountsServices {
  queries: KeyQueries;
  lifecycle: KeyLifecycle;
  hardwareKeyEvents: HardwareKeyEvents;
  depository: Depository;
  authorizer: TemporaryKeyAuthorizer;
  agents: AgentRegistry;
  devUsers: DevUsers;
}

const controllers = [
  KeysRpcController, KeyEventsMessageController, DepositoryRpcController, AgentsRpcController, AgentInventoryMessageController, DevUsersRpcController,
];

@Module({})
export class AccountsModule {
  static register(services: AccountsServices): DynamicModule {
    const providers: Provider[] = [
      { provide: KeyQueries, useValue: services.queries },
      { provide: KeyLifecycle, useValue: services.lifecycle },
      { provide: HardwareKeyEvents, useValue: services.hardwareKeyEvents },
      { provide: Depository, useValue: services.depository },
      { provide: TemporaryKeyAuthorizer, useValue: services.authorizer },
      { provide: AgentRegistry, useValue: services.agents },
      { provide: DevUsers, useValue: services.devUsers },
    ];
    return { module: AccountsModule, imports: [HealthModule], controllers, providers };
  }
}
