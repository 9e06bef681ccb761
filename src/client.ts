import { Command, InvalidArgumentError } from 'commander';
import type { DevOptions } from './cli/dev-command';
import type { ServeOptions } from './cli/serve-command';
import type { TailOptions } from './cli/tail-command';
import type { WorkerCommandOptions } from './cli/worker-command';
import { debugRequested } from './env';
import { CliError, IndexerError, oneLine } from './errors';
import { DEV_STATE_DIR } from './env';

// Each command imports what it needs when it runs: `indexer status` must not pay for loading the
// worker, webpack, viem or embedded PostgreSQL (seconds on a busy machine).

function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 65535) throw new InvalidArgumentError('must be a TCP port (1-65535)');
  return n;
}

function blockNumber(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a block number (a whole number ≥ 0)');
  return Number(value);
}

export function buildCli(): Command {
  const program = new Command('indexer')
    .description('EVM event indexer on Temporal: every event of your contracts in PostgreSQL, exactly once, in order')
    .showHelpAfterError(false)
    .configureOutput({ outputError: (text, write) => write(text.split('\n')[0] + '\n') });

  program
    .command('dev')
    .description('everything local: Temporal dev server, PostgreSQL, anvil with demo traffic, worker, indexer, live status')
    .option('-c, --config <path>', 'config file (default: indexer.config.{ts,mjs,js,json}; none: the demo)')
    .option('--temporal-port <port>', 'Temporal dev server port', port, 7233)
    .option('--ui-port <port>', 'Temporal Web UI port', port, 8233)
    .option('--anvil-port <port>', 'demo chain port (another free one when taken)', port, 8545)
    .option('--postgres-port <port>', 'embedded PostgreSQL port', port, 54329)
    .option('--metrics-port <port>', 'the worker\'s /metrics and /health (another free one when taken)', port, 9464)
    .option('--api-port <port>', 'the GraphQL API (default: API_PORT, else 42069; another free one when taken)', port)
    .option('--state-dir <dir>', 'where Temporal and anvil keep their state', DEV_STATE_DIR)
    .action(async (opts: DevOptions) => (await import('./cli/dev-command')).devCommand(opts));

  program
    .command('worker')
    .description('run a worker (RPC URLs and DATABASE_URL come from its environment or --config)')
    .option('-c, --config <path>', 'config file')
    .option('--embedded-postgres [port]', 'when DATABASE_URL is not set, start an embedded PostgreSQL (local use; default port 54329)', port)
    .option('--state-dir <dir>', 'where the embedded PostgreSQL keeps its data', DEV_STATE_DIR)
    .action(async (opts: WorkerCommandOptions) => (await import('./cli/worker-command')).workerCommand(opts));

  program
    .command('start')
    .description('start the indexer workflow(s), one per chain')
    .option('-c, --config <path>', 'config file')
    .option('--from-block <n>', 'start (or restart) at this block instead of the stored checkpoint', blockNumber)
    .action(async (opts: { config?: string; fromBlock?: number }) => (await import('./cli/start-command')).startCommand(opts));

  program
    .command('status [name]')
    .description('sync status of one indexer or all')
    .option('--json', 'machine-readable')
    .option('--watch', 'live view, redrawn in place')
    .action(async (name: string | undefined, opts: { json?: boolean; watch?: boolean }) => (await import('./cli/status-command')).statusCommand(name, opts));

  for (const signal of ['pause', 'resume', 'stop'] as const) {
    const what = { pause: 'stop scheduling new ranges (in-flight ones finish)', resume: 'continue after pause', stop: 'stop gracefully; start resumes from the checkpoint' }[signal];
    program
      .command(`${signal} <name>`)
      .description(what)
      .action(async (name: string) => (await import('./cli/control-commands')).signalCommand(name, signal));
  }

  program
    .command('verify <name>')
    .description('compare stored data with the chain now, repair what differs, print the result')
    .option('--from <n>', 'first block (default: the start block)', blockNumber)
    .option('--to <n>', 'last block (default: the checkpoint)', blockNumber)
    .option('--json', 'machine-readable')
    .action(async (name: string, opts: { from?: number; to?: number; json?: boolean }) => (await import('./cli/control-commands')).verifyCommand(name, opts));

  program
    .command('reset <name>')
    .description('roll data back to block N (one transaction per chain) and continue from N+1')
    .requiredOption('--to-block <n>', 'the last block to keep', blockNumber)
    .action(async (name: string, opts: { toBlock: number }) => (await import('./cli/control-commands')).resetCommand(name, opts.toBlock));

  program
    .command('rebuild <name>')
    .description('empty the derived tables and replay every stored event through the handlers (no RPC); waits until caught up')
    .action(async (name: string) => (await import('./cli/rebuild-command')).rebuildCommand(name));

  program
    .command('tail <name>')
    .description("print the indexer's stream (NATS JetStream) as lines: events, and RETRACT lines after reorgs; Ctrl-C stops")
    .option('--from-start', 'from the first message the stream holds (default: from now)')
    .option('--chain <id>', 'only this chain', blockNumber)
    .option('--json', 'the message bodies as they are, one JSON object per line')
    .option('-c, --config <path>', "the indexer's config (stream names and stream.nats.url; default: asked of the running indexer)")
    .action(async (name: string, opts: TailOptions) => (await import('./cli/tail-command')).tailCommand(name, opts));

  program
    .command('serve [names...]')
    .description('the GraphQL read API over the indexers\' tables (default: every indexer in DATABASE_URL); reads PostgreSQL only')
    .option('--port <port>', 'port (default: API_PORT, else 42069)', port)
    .option('--host <host>', 'address to listen on (default: API_HOST, else 127.0.0.1)')
    .action(async (names: string[], opts: ServeOptions) => (await import('./cli/serve-command')).serveCommand(names, opts));

  program
    .command('list')
    .description('indexers known to Temporal, with mode and progress')
    .option('--json', 'machine-readable')
    .action(async (opts: { json?: boolean }) => (await import('./cli/list-command')).listCommand(opts));

  return program;
}

/** Runs the CLI; any failure is one line on stderr and a non-zero exit. */
export async function main(argv = process.argv): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
    process.exitCode ??= 0;
  } catch (error) {
    const code = error instanceof CliError ? error.exitCode : 1;
    const message = error instanceof CliError || error instanceof IndexerError ? oneLine(error) : `unexpected error: ${oneLine(error)}`;
    process.stderr.write(`error: ${message}\n`);
    if (debugRequested()) console.error(error);
    process.exitCode = code;
  }
}
