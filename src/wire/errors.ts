/**
 * Typed errors for every layer. A reason code says what went wrong in a way a program can switch on;
 * `disconnectReason` (RFC 4253 §11.1) is what the transport sends the peer when the error ends a connection.
 */

/** SSH_DISCONNECT reason codes, RFC 4250 §4.2.2. */
export const DisconnectReason = {
  HOST_NOT_ALLOWED_TO_CONNECT: 1,
  PROTOCOL_ERROR: 2,
  KEY_EXCHANGE_FAILED: 3,
  RESERVED: 4,
  MAC_ERROR: 5,
  COMPRESSION_ERROR: 6,
  SERVICE_NOT_AVAILABLE: 7,
  PROTOCOL_VERSION_NOT_SUPPORTED: 8,
  HOST_KEY_NOT_VERIFIABLE: 9,
  CONNECTION_LOST: 10,
  BY_APPLICATION: 11,
  TOO_MANY_CONNECTIONS: 12,
  AUTH_CANCELLED_BY_USER: 13,
  NO_MORE_AUTH_METHODS_AVAILABLE: 14,
  ILLEGAL_USER_NAME: 15,
} as const;
export type DisconnectReasonCode = (typeof DisconnectReason)[keyof typeof DisconnectReason];

export type SshErrorCode =
  | "MALFORMED" // a field was short, negative, oversized or otherwise not what the encoding allows
  | "PROTOCOL" // a message out of place, an unknown message, a broken rule of the protocol
  | "VERSION" // version exchange failed
  | "KEX_FAILED" // no common algorithm, or the key exchange itself failed
  | "HOST_KEY" // host key signature did not verify or the host key was refused
  | "MAC" // packet authentication failed
  | "PACKET_TOO_LARGE"
  | "BAD_PADDING"
  | "COMPRESSION"
  | "DISCONNECTED" // the peer sent DISCONNECT
  | "CONNECTION_LOST" // the socket ended or failed
  | "TIMEOUT"
  | "UNSUPPORTED" // an algorithm, key type or format we do not implement
  | "KEY_FORMAT" // a key file is corrupt or not in a known format
  | "BAD_PASSPHRASE" // the passphrase did not decrypt the key
  | "PASSPHRASE_REQUIRED"
  | "CONFIG" // a configuration value is invalid
  | "AUTH_FAILED" // no authentication method succeeded ("Permission denied (...)")
  | "CHANNEL_OPEN_FAILED" // the peer refused to open a channel
  | "CHANNEL_CLOSED" // an operation on a channel that has closed
  | "REQUEST_FAILED" // the peer answered a global or channel request with failure
  | "AGENT" // an authentication agent refused or failed
  | "ABORTED";

export class SshError extends Error {
  readonly code: SshErrorCode;
  /** The RFC 4253 §11.1 reason the transport sends when this error ends a connection. */
  readonly disconnectReason: DisconnectReasonCode;

  constructor(
    code: SshErrorCode,
    message: string,
    options: { disconnectReason?: DisconnectReasonCode; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SshError";
    this.code = code;
    this.disconnectReason = options.disconnectReason ?? defaultDisconnectReason(code);
  }
}

function defaultDisconnectReason(code: SshErrorCode): DisconnectReasonCode {
  switch (code) {
    case "KEX_FAILED":
      return DisconnectReason.KEY_EXCHANGE_FAILED;
    case "HOST_KEY":
      return DisconnectReason.HOST_KEY_NOT_VERIFIABLE;
    case "MAC":
      return DisconnectReason.MAC_ERROR;
    case "COMPRESSION":
      return DisconnectReason.COMPRESSION_ERROR;
    case "VERSION":
      return DisconnectReason.PROTOCOL_VERSION_NOT_SUPPORTED;
    case "CONNECTION_LOST":
      return DisconnectReason.CONNECTION_LOST;
    case "ABORTED":
      return DisconnectReason.BY_APPLICATION;
    case "AUTH_FAILED":
      return DisconnectReason.NO_MORE_AUTH_METHODS_AVAILABLE;
    default:
      return DisconnectReason.PROTOCOL_ERROR;
  }
}
