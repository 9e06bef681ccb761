import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

/** Resolves once something accepts TCP connections on host:port, or rejects after timeoutMs. */
export async function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 60_000, exited?: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ port, host });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    const why = exited?.();
    if (why) throw new Error(why);
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface ManagedProcess {
  child: ChildProcess;
  /** The last lines it printed, for error messages. */
  output: () => string;
  exitReason: () => string | undefined;
  stop: (signal?: NodeJS.Signals, graceMs?: number) => Promise<void>;
}

/**
 * Spawns a helper process whose output is kept (not printed) and which stops with us. It gets its
 * own process group, so a Ctrl-C in the terminal reaches only us: we then stop things in order
 * (the worker first, while the Temporal server can still take its last reports), not all at once.
 */
export function spawnManaged(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; name: string }): ManagedProcess {
  const child = spawn(command, args, { env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let tail = '';
  let exit: string | undefined;
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', (error) => {
    exit = `${options.name} could not start: ${error.message}`;
  });
  child.on('exit', (code, signal) => {
    exit ??= `${options.name} exited (${signal ?? `code ${code}`}): ${tail.trim().split('\n').slice(-3).join(' | ')}`;
  });
  const onParentExit = () => child.kill('SIGKILL');
  process.once('exit', onParentExit);
  return {
    child,
    output: () => tail,
    exitReason: () => exit,
    stop: async (signal = 'SIGTERM', graceMs = 10_000) => {
      process.removeListener('exit', onParentExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
