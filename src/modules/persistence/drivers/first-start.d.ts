// The types of first-start.js (CommonJS, Node's builtins only: a worker's and a process's script, not compiled).

/** Whether `dataDir` (`<DATA_DIR>/db/pgdata`) holds a cluster, or anything that is not left to initdb. */
export function hasCluster(dataDir: string): boolean;

/** Makes a new cluster at `dataDir` by an initdb process unless it holds one; durable once resolved. */
export function ensureDataDir(dataDir: string): Promise<void>;

/** fsyncs every file and directory under `dir`, each directory after what it holds. */
export function syncTree(dir: string): void;
