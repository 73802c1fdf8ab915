/**
 * Is this public key authorized for this system user? sshd's user_key_allowed (auth2-pubkey.c): every
 * AuthorizedKeysFile in order, then AuthorizedKeysCommand; the first line whose key matches and whose
 * options allow this connection (from=, expiry-time=) wins, and its options go with the login.
 */
import { authorizeKey, parseAuthorizedKeys, type AuthorizedKeyEntry } from "../keys/authorizedKeys.js";
import { fingerprint, keyTypeLabel, type PublicKey } from "../keys/index.js";
import type { SystemAccount } from "./accounts.js";
import {
  authorizedKeysPaths,
  readAuthorizedKeysFile,
  runAuthorizedKeysCommand,
  type AuthorizedKeysSource,
} from "./authorizedKeysAccess.js";
import type { LoginLog, LoginSettings } from "./loginSettings.js";

export type { AuthorizedKeyEntry };

export interface KeyAuthorization {
  key: PublicKey;
  entry: AuthorizedKeyEntry;
  /** "/home/alice/.ssh/authorized_keys:3" or "AuthorizedKeysCommand:1". */
  where: string;
}

/**
 * Parsed authorized_keys texts, by origin and the very text: a login reads the file twice (the query,
 * then the signature) and every login of a user reads the same text; parsing each key line again
 * (base64, the key blob) was a good part of the monitor's answer. Keyed by content, so a changed file
 * is simply another entry; bounded, least recently used first out.
 */
const parsedTexts = new Map<string, ReturnType<typeof parseAuthorizedKeys>>();
const PARSED_TEXTS_MAX = 64;
const PARSED_TEXT_MAX_CHARS = 64 * 1024;

function parsedAuthorizedKeys(text: string, origin: string): ReturnType<typeof parseAuthorizedKeys> {
  if (text.length > PARSED_TEXT_MAX_CHARS) return parseAuthorizedKeys(text, origin);
  const key = `${origin}\0${text}`;
  let parsed = parsedTexts.get(key);
  if (parsed) parsedTexts.delete(key);
  else parsed = parseAuthorizedKeys(text, origin);
  parsedTexts.set(key, parsed); // most recently used last
  if (parsedTexts.size > PARSED_TEXTS_MAX) parsedTexts.delete(parsedTexts.keys().next().value!);
  return parsed;
}

function matchIn(
  source: AuthorizedKeysSource,
  account: SystemAccount,
  key: PublicKey,
  remoteAddress: string,
  log: LoginLog,
): KeyAuthorization | null {
  const { entries, errors } = parsedAuthorizedKeys(source.text, source.origin);
  for (const e of errors) log.debug1(`${source.origin}:${e.line}: ${e.message}`);
  const { entry, refused } = authorizeKey(entries, key, {
    remoteAddress,
    user: account.name,
    now: new Date(),
  });
  for (const reason of refused) log.info(reason);
  if (!entry) return null;
  const where = `${source.origin}:${entry.line}`;
  log.debug1(`${where}: matching key found: ${keyTypeLabel(key)} ${fingerprint(key)}`);
  return { key, entry, where };
}

export async function findKeyAuthorization(
  account: SystemAccount,
  key: PublicKey,
  settings: LoginSettings,
  remoteAddress: string,
  log: LoginLog,
): Promise<KeyAuthorization | null> {
  let files: string[];
  try {
    files = authorizedKeysPaths(settings.authorizedKeysFiles, account);
  } catch (err) {
    log.error(`AuthorizedKeysFile: ${(err as Error).message}`);
    files = [];
  }
  for (const file of files) {
    const source = await readAuthorizedKeysFile(file, account, settings, log);
    const found = source && matchIn(source, account, key, remoteAddress, log);
    if (found) return found;
  }
  const fromCommand = await runAuthorizedKeysCommand(account, key, settings, log);
  return (fromCommand && matchIn(fromCommand, account, key, remoteAddress, log)) ?? null;
}
