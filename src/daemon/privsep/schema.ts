/**
 * Checks for messages that cross a process boundary of nsshd. A message from a pre-auth worker is as hostile
 * as a packet from the network (the worker parses network bytes and may be compromised), so the monitor
 * checks every field's type and bound before it acts, and refuses the whole message otherwise.
 */

export class SchemaError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = "SchemaError";
  }
}

export type Check<T> = (value: unknown, path: string) => T;

export const str =
  (maxLength: number): Check<string> =>
  (v, path) => {
    if (typeof v !== "string") throw new SchemaError(path, "not a string");
    if (v.length > maxLength) throw new SchemaError(path, `longer than ${maxLength}`);
    if (v.includes("\0")) throw new SchemaError(path, "holds a NUL");
    return v;
  };

export const bytes =
  (maxLength: number): Check<Buffer> =>
  (v, path) => {
    // The advanced serialization delivers Buffers as Uint8Arrays.
    if (!(v instanceof Uint8Array)) throw new SchemaError(path, "not bytes");
    if (v.length > maxLength) throw new SchemaError(path, `longer than ${maxLength} bytes`);
    return Buffer.from(v.buffer, v.byteOffset, v.length);
  };

export const uint =
  (max: number): Check<number> =>
  (v, path) => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) {
      throw new SchemaError(path, `not an integer in 0..${max}`);
    }
    return v;
  };

export const bool: Check<boolean> = (v, path) => {
  if (typeof v !== "boolean") throw new SchemaError(path, "not a boolean");
  return v;
};

export const oneOf =
  <T extends string>(...values: T[]): Check<T> =>
  (v, path) => {
    if (typeof v !== "string" || !values.includes(v as T))
      throw new SchemaError(path, "not an allowed value");
    return v as T;
  };

export const optional =
  <T>(check: Check<T>): Check<T | undefined> =>
  (v, path) =>
    v === undefined ? undefined : check(v, path);

export const list =
  <T>(check: Check<T>, maxItems: number): Check<T[]> =>
  (v, path) => {
    if (!Array.isArray(v)) throw new SchemaError(path, "not a list");
    if (v.length > maxItems) throw new SchemaError(path, `more than ${maxItems} items`);
    return v.map((item, i) => check(item, `${path}[${i}]`));
  };

type Shape = Record<string, Check<unknown>>;
type Checked<S extends Shape> = { [K in keyof S]: ReturnType<S[K]> };

/** An object with exactly these fields: an unknown field is refused too, not ignored. */
export const object =
  <S extends Shape>(shape: S): Check<Checked<S>> =>
  (v, path) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new SchemaError(path, "not an object");
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(v)) {
      if (!Object.hasOwn(shape, key)) throw new SchemaError(path, `unexpected field ${key}`);
    }
    for (const [key, check] of Object.entries(shape)) {
      out[key] = check((v as Record<string, unknown>)[key], `${path}.${key}`);
    }
    return out as Checked<S>;
  };
