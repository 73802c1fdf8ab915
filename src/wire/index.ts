/**
 * wire/: the SSH byte encodings (RFC 4251 §5), message numbers and the typed error every layer throws.
 * It depends on nothing but Node's Buffer.
 */
export * from "./errors.js";
export * from "./reader.js";
export * from "./writer.js";
export * from "./messages.js";
