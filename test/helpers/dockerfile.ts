import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Reproduces an image's file set and install without Docker, from the Dockerfile itself, so the
 * test cannot drift from what ships: each stage gets a directory standing for its WORKDIR, COPY
 * copies what it names (from the build context, minus .dockerignore, or from an earlier stage),
 * RUN runs its command there with the stage's ENV, and the last stage's ENTRYPOINT + CMD is the
 * command to start. An instruction this does not know fails loudly: teach it here rather than
 * let the test quietly stop matching the image.
 */

export interface Instruction {
  op: string;
  args: string;
  line: number;
}

export interface Stage {
  name?: string;
  base: string;
  workdir: string;
  env: Record<string, string>;
  instructions: Instruction[];
}

export interface Dockerfile {
  stages: Stage[];
}

/** Instructions, one per logical line (continuations joined, comments dropped). */
export function parseInstructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buffer = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!buffer && (line === '' || line.startsWith('#'))) return;
    if (!buffer) start = i + 1;
    if (line.endsWith('\\')) {
      buffer += `${line.slice(0, -1)} `;
      return;
    }
    buffer += line;
    const m = /^(\w+)\s+([\s\S]*)$/.exec(buffer);
    if (!m) throw new Error(`Dockerfile line ${start}: cannot parse ${JSON.stringify(buffer)}`);
    out.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start });
    buffer = '';
  });
  return out;
}

/** `KEY=value KEY2="a b"` → pairs (double quotes hold spaces). */
function parseEnv(args: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of args.matchAll(/(\w+)=("((?:[^"\\]|\\.)*)"|\S*)/g)) env[m[1]!] = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : m[2]!;
  if (Object.keys(env).length === 0) throw new Error(`ENV ${args}: only the KEY=value form is supported`);
  return env;
}

export function parseDockerfile(text: string): Dockerfile {
  const stages: Stage[] = [];
  for (const instruction of parseInstructions(text)) {
    if (instruction.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (!m) throw new Error(`Dockerfile line ${instruction.line}: FROM ${instruction.args}`);
      stages.push({ base: m[1]!, name: m[2], workdir: '/', env: {}, instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`Dockerfile line ${instruction.line}: ${instruction.op} before FROM`);
    stage.instructions.push(instruction);
  }
  return { stages };
}

/** Reads .dockerignore: root-relative paths excluded from the build context. */
function dockerignore(context: string): string[] {
  const file = path.join(context, '.dockerignore');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim().replace(/^\/+|\/+$/g, ''))
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      if (/[*?[!]/.test(l)) throw new Error(`.dockerignore pattern ${l}: globs are not supported by test/helpers/dockerfile.ts yet`);
      return l;
    });
}

export interface ReproducedImage {
  /** The final stage's WORKDIR, as a directory on this machine. */
  appDir: string;
  /** The final stage's ENV. */
  env: Record<string, string>;
  /** ENTRYPOINT followed by CMD. */
  entrypoint: string[];
  cmd: string[];
  /** What each RUN took, for the test's output. */
  timings: Array<{ stage: string; command: string; seconds: number }>;
}

function jsonArray(args: string, what: string): string[] {
  try {
    const value = JSON.parse(args) as unknown;
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value;
  } catch {
    // reported below
  }
  throw new Error(`${what} ${args}: only the JSON (exec) form is supported`);
}

/**
 * Builds every stage of `dockerfilePath` under `outDir` (one directory per stage) from `context`.
 * `runEnv` is added to every RUN's environment (e.g. npm_config_prefer_offline to use the local
 * npm cache; the commands themselves run exactly as written).
 */
export function reproduceImage(dockerfilePath: string, context: string, outDir: string, runEnv: NodeJS.ProcessEnv = {}): ReproducedImage {
  const { stages } = parseDockerfile(readFileSync(dockerfilePath, 'utf8'));
  const ignored = dockerignore(context);
  const stageDirs = new Map<string, string>();
  const timings: ReproducedImage['timings'] = [];
  let last: { dir: string; stage: Stage; entrypoint: string[]; cmd: string[] } | undefined;

  stages.forEach((stage, index) => {
    const label = stage.name ?? String(index);
    const root = path.join(outDir, `stage-${index}-${label}`);
    mkdirSync(root, { recursive: true });
    let workdir = '/';
    const env: Record<string, string> = {};
    let entrypoint: string[] = [];
    let cmd: string[] = [];
    // Paths inside the stage (absolute, or relative to WORKDIR) → this machine.
    const local = (dir: string, p: string) => path.join(dir, path.posix.resolve(workdir, p));
    for (const { op, args, line } of stage.instructions) {
      switch (op) {
        case 'WORKDIR':
          workdir = path.posix.resolve(workdir, args);
          mkdirSync(local(root, '.'), { recursive: true });
          break;
        case 'ENV':
          Object.assign(env, parseEnv(args));
          break;
        case 'COPY': {
          const parts = args.split(/\s+/);
          let from: string | undefined;
          while (parts[0]?.startsWith('--')) {
            const flag = parts.shift()!;
            if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
            else if (!flag.startsWith('--chown=') && !flag.startsWith('--chmod=')) throw new Error(`Dockerfile line ${line}: COPY ${flag} is not supported`);
          }
          const dest = parts.pop()!;
          for (const source of parts) {
            let src: string;
            if (from !== undefined) {
              const fromDir = stageDirs.get(from);
              if (!fromDir) throw new Error(`Dockerfile line ${line}: COPY --from=${from}: no such earlier stage`);
              src = path.join(fromDir, path.posix.resolve('/', source));
            } else {
              src = path.join(context, source);
            }
            if (!existsSync(src)) throw new Error(`Dockerfile line ${line}: COPY ${source}: not found`);
            const target = dest.endsWith('/') || parts.length > 1 ? path.join(local(root, dest), path.basename(source)) : local(root, dest);
            cpSync(src, target, {
              recursive: true,
              filter: (file) => from !== undefined || !ignored.some((i) => path.relative(context, file) === i || path.relative(context, file).startsWith(`${i}/`)),
            });
          }
          break;
        }
        case 'RUN': {
          if (args.startsWith('[')) throw new Error(`Dockerfile line ${line}: RUN in exec form is not supported`);
          const t0 = Date.now();
          // npm run by the test runner leaves npm_config_* behind; a build container has none of them.
          const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
          execFileSync('/bin/sh', ['-c', args], { cwd: local(root, '.'), env: { ...base, ...env, ...runEnv }, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
          timings.push({ stage: label, command: args, seconds: (Date.now() - t0) / 1000 });
          break;
        }
        case 'ENTRYPOINT':
          entrypoint = jsonArray(args, 'ENTRYPOINT');
          break;
        case 'CMD':
          cmd = jsonArray(args, 'CMD');
          break;
        case 'USER':
        case 'EXPOSE':
        case 'LABEL':
          break; // no effect on the files or the command
        default:
          throw new Error(`Dockerfile line ${line}: ${op} is not supported by test/helpers/dockerfile.ts; add it there`);
      }
    }
    if (stage.name) stageDirs.set(stage.name, root);
    stageDirs.set(String(index), root);
    last = { dir: local(root, '.'), stage, entrypoint, cmd };
    stage.workdir = workdir;
    stage.env = env;
  });
  if (!last) throw new Error('the Dockerfile has no stage');
  return { appDir: last.dir, env: last.stage.env, entrypoint: last.entrypoint, cmd: last.cmd, timings };
}
