/** DI tokens of the agent's Nest module (the objects are built by `startTokenAgent`). */
export const TOKEN_REGISTRY = Symbol('TokenRegistry');
export const AGENT_JOURNAL = Symbol('AgentJournal');
export const SEALING_KEY = Symbol('SealingKey');
export const AGENT_EVENTS = Symbol('AgentEvents');
export const AGENT_ACTIVITY = Symbol('AgentActivity');
export const AGENT_LOGGER = Symbol('AgentLogger');
