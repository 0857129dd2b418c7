import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from '@thk/core';
import { AGENT_ACTIVITY, AGENT_EVENTS, AGENT_JOURNAL, AGENT_LOGGER, SEALING_KEY, TOKEN_REGISTRY } from './agent.tokens.js';
import type { AgentEvents } from './commands/agent-events.js';
import { DestroyTokenKeyMessageController } from './commands/destroy-token-key/destroy-token-key.message.controller.js';
import { DestroyTokenKeyService } from './commands/destroy-token-key/destroy-token-key.service.js';
import { GenerateTokenKeyMessageController } from './commands/generate-token-key/generate-token-key.message.controller.js';
import { GenerateTokenKeyService } from './commands/generate-token-key/generate-token-key.service.js';
import { InstallCertificateMessageController } from './commands/install-certificate/install-certificate.message.controller.js';
import { InstallCertificateService } from './commands/install-certificate/install-certificate.service.js';
import { AGENT_CONFIG, type TokenAgentConfig } from './config/agent.config.js';
import type { AgentJournal } from './journal/agent-journal.js';
import type { SealingKey } from './sealing/sealing-key.js';
import type { AgentActivity } from './status/agent-activity.js';
import type { TokenRegistry } from './tokens/token-registry.js';

/** What `startTokenAgent` builds before Nest starts (their lifecycles are the start function's). */
export interface TokenAgentDependencies {
  config: TokenAgentConfig;
  registry: TokenRegistry;
  journal: AgentJournal;
  sealing: SealingKey;
  events: AgentEvents;
  activity: AgentActivity;
  logger: Logger;
}

const messageControllers = [GenerateTokenKeyMessageController, InstallCertificateMessageController, DestroyTokenKeyMessageController];
const commandServices = [GenerateTokenKeyService, InstallCertificateService, DestroyTokenKeyService];

@Module({})
export class TokenAgentModule {
  static register(deps: TokenAgentDependencies): DynamicModule {
    return {
      module: TokenAgentModule,
      controllers: messageControllers,
      providers: [
        { provide: AGENT_CONFIG, useValue: deps.config },
        { provide: TOKEN_REGISTRY, useValue: deps.registry },
        { provide: AGENT_JOURNAL, useValue: deps.journal },
        { provide: SEALING_KEY, useValue: deps.sealing },
        { provide: AGENT_EVENTS, useValue: deps.events },
        { provide: AGENT_ACTIVITY, useValue: deps.activity },
        { provide: AGENT_LOGGER, useValue: deps.logger },
        ...commandServices,
      ],
    };
  }
}
