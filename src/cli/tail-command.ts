import { connect } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { loadConfig } from '../config/load';
import { CliError } from '../errors';
import { streamSpec, type StreamSpec } from '../stages/stream/config';
import { describeNatsError } from '../stages/stream/connection';
import { parseBody, type StreamBody } from '../stages/stream/message';
import { resolveNatsServers } from '../stages/stream/nats-url';
import { cliSettings } from './settings';
import { connectClient, findIndexers, queryStatus } from './temporal';

export interface TailOptions {
  fromStart?: boolean;
  json?: boolean;
  chain?: number;
  config?: string;
}

/** One line per message: `31337 Token.Transfer block 123 log 4 {…args}`, retractions as `RETRACT …`. */
export function tailLine(body: StreamBody): string {
  const line = `${body.chainId} ${body.contract}.${body.event} block ${body.blockNumber} log ${body.logIndex} ${JSON.stringify(body.args)}`;
  return body.removed ? `RETRACT ${line}` : line;
}

/** The indexer's stream names: from --config, else from the running indexer's status, else the defaults. */
async function streamOf(name: string, configPath: string | undefined): Promise<{ spec: StreamSpec; configUrl?: string }> {
  if (configPath) {
    const { config } = await loadConfig(configPath);
    if (config.name !== name) throw new CliError(`${configPath} configures indexer "${config.name}", not "${name}"`);
    if (!config.stream) throw new CliError(`${configPath} has no stream configured (add stream: { delivery: 'safe' })`);
    return { spec: streamSpec(name, config.stream), configUrl: config.stream.nats.url };
  }
  const fallback = { spec: streamSpec(name, { nats: {}, delivery: 'safe' }) };
  let client;
  try {
    client = await connectClient(cliSettings());
  } catch {
    return fallback;
  }
  try {
    const [indexer] = await findIndexers(client, name);
    if (!indexer) return fallback;
    const status = await queryStatus(client, client.workflow.getHandle(indexer.workflowId), 5_000).catch(() => null);
    if (status && !status.stream) throw new CliError(`indexer ${name} has no stream configured: add stream: { … } to its config`);
    return status?.stream ? { spec: { stream: status.stream.stream, subject: status.stream.subject, delivery: status.stream.delivery } } : fallback;
  } finally {
    await client.connection.close();
  }
}

/**
 * `indexer tail <name>`: the indexer's stream as lines, from now (or from the start), through an
 * ordered consumer that lives only as long as the command; Ctrl-C ends it. A consumer to start
 * from: apply events, undo retractions (`removed: true`).
 */
export async function tailCommand(name: string, options: TailOptions): Promise<void> {
  const { spec, configUrl } = await streamOf(name, options.config);
  // Without NATS_URL or a config's URL: the server of an `indexer dev` running in this directory, if any.
  const nats = resolveNatsServers(configUrl ?? (await import('../dev/nats-server')).devNatsUrl());
  let nc;
  try {
    nc = await connect({ servers: nats.servers, user: nats.user, pass: nats.pass, token: nats.token, timeout: 5_000, name: `indexer tail ${name}` });
  } catch (error) {
    throw new CliError(`cannot reach NATS at ${nats.label}: ${describeNatsError(error)} (set NATS_URL)`);
  }
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.info(spec.stream).catch(() => {
      throw new CliError(`no stream ${spec.stream} on NATS at ${nats.label}: it is created when the indexer first publishes (is a worker running it?)`);
    });
    const filter = options.chain === undefined ? `${spec.subject}.>` : `${spec.subject}.${options.chain}.>`;
    const consumer = await jetstream(nc).consumers.get(spec.stream, { filter_subjects: filter, deliver_policy: options.fromStart ? DeliverPolicy.All : DeliverPolicy.New });
    const messages = await consumer.consume();
    const stop = () => void messages.stop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    process.stderr.write(`tailing ${spec.stream} (${filter}) on ${nats.label}${options.fromStart ? ' from the start' : ''}; Ctrl-C stops\n`);
    for await (const m of messages) {
      const body = parseBody(m.data);
      if (options.json) process.stdout.write(`${m.string()}\n`);
      else process.stdout.write(`${body ? tailLine(body) : `${m.subject} ${m.string()}`}\n`);
    }
  } finally {
    await nc.close().catch(() => undefined);
  }
}
