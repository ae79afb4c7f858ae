/**
 * The trick the lazy Web objects share: a light class whose prototype chain goes through an
 * undici prototype, and whose every member it does not answer itself is forwarded to the real
 * undici object it builds on first use (undici checks the brand of `this`, so the inherited
 * members cannot be called on the light object directly).
 * Thread: any (runs once per class at module load). Owns nothing.
 */
export function forwardToReal<T extends object>(light: { prototype: T }, realProto: object, real: (self: T) => object): void {
  const proto = light.prototype as unknown as Record<PropertyKey, unknown>;
  for (const key of Reflect.ownKeys(realProto)) {
    if (key === Symbol.toStringTag || Object.prototype.hasOwnProperty.call(proto, key)) continue;
    const desc = Object.getOwnPropertyDescriptor(realProto, key)!;
    if (desc.get !== undefined) {
      Object.defineProperty(proto, key, {
        get(this: T) {
          return Reflect.get(realProto, key, real(this));
        },
        enumerable: desc.enumerable,
        configurable: true,
      });
    } else if (typeof desc.value === 'function') {
      const method = desc.value as (...args: unknown[]) => unknown;
      Object.defineProperty(proto, key, {
        value: {
          // a method, not an arrow: keeps the name and has no prototype
          [key](this: T, ...args: unknown[]): unknown {
            return method.apply(real(this), args);
          },
        }[key as string],
        writable: true,
        enumerable: desc.enumerable,
        configurable: true,
      });
    }
  }
}
