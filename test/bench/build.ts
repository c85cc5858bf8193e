import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * jest globalSetup of the `bench` project: what `npm run bench` builds before it runs, the app (dist/) and the
 * benchmark (bench/dist/).
 */
export default function buildBench(): void {
  const root = join(__dirname, '..', '..');
  execFileSync('npx', ['nest', 'build'], { cwd: root, stdio: 'inherit' });
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'bench/tsconfig.json'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
}
