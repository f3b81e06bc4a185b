// `OneOf<T>`: a union whose members may each be read by any member's field. Each member of `T`
// gets the keys only other members have, as `?: undefined`: a value is still exactly one member,
// a reader narrows on a field (`r.retry`, `e.kind === 'birth'`), and before narrowing any field
// reads as its type or `undefined`. Used for syscall replies (messages.ts) and history events.

/** Every key of every member of a union. */
export type KeysOf<T> = T extends unknown ? keyof T : never;

export type OneOf<T, All = T> = T extends unknown ? T & { [K in Exclude<KeysOf<All>, keyof T>]?: undefined } : never;
