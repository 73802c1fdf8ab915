/**
 * agent/: the SSH agent protocol (draft-miller-ssh-agent, OpenSSH's PROTOCOL.agent): the message
 * encodings, and the client that lists, uses and manages the keys of a running agent through
 * SSH_AUTH_SOCK. The agent server and agent forwarding will live here too.
 */
export {
  AgentClient,
  type AgentClientOptions,
  type AgentKey,
  type AgentRequestOptions,
} from "./agentClient.js";
export {
  AGENT_MAX_LEN,
  AgentConstraint,
  AgentFrameReader,
  AgentMsg,
  AgentSignFlag,
  decodeIdentitiesAnswer,
  decodeSignResponse,
  encodeAddIdentity,
  encodeAgentFrame,
  encodeLock,
  encodeRemoveAllIdentities,
  encodeRemoveIdentity,
  encodeRequestIdentities,
  encodeSignRequest,
  isAgentFailure,
  signFlagsFor,
  type AgentFrame,
  type AgentIdentityEntry,
  type AgentKeyConstraints,
} from "./agentProtocol.js";
