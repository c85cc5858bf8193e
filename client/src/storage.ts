/**
 * Where the outbox keeps what is not sent yet, so it survives app restarts. AsyncStorage
 * (`@react-native-async-storage/async-storage`) and `window.localStorage` fit as they are.
 */
export interface StorageAdapter {
  getItem(key: string): Promise<string | null> | string | null;
  setItem(key: string, value: string): Promise<void> | void;
  removeItem(key: string): Promise<void> | void;
}

/** A storage that lives as long as the process (the default: the outbox then survives reconnects, not restarts). */
export function memoryStorage(): StorageAdapter {
  const items = new Map<string, string>();
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  };
}
