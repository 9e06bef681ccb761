import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { findTemporalCli, startTemporalDevServer } from '../../src/dev/temporal-server';
import { freePort } from '../helpers/ports';

/**
 * `temporal server start-dev` picks its internal ports itself and can die while starting when one
 * is taken in between (seen once in CI, a Go panic before it listened). The starter tries once
 * more; a server that fails twice is an error naming why.
 */

/** A CLI that fails its first `failures` starts the way the dev server did, then is the real one. */
function flakyCli(failures: number): { cli: string; starts: string } {
  const real = findTemporalCli();
  assert.ok(real, 'the Temporal CLI is installed (scripts/install-temporal-cli.sh)');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flaky-temporal-'));
  const starts = path.join(dir, 'starts');
  const cli = path.join(dir, 'temporal');
  writeFileSync(
    cli,
    `#!/bin/sh
echo start >> "${starts}"
if [ "$(wc -l < "${starts}")" -le ${failures} ]; then echo 'panic: failed assigning ephemeral port' >&2; exit 2; fi
exec "${real}" "$@"
`,
  );
  chmodSync(cli, 0o755);
  return { cli, starts };
}

async function withCli<T>(cli: string, run: () => Promise<T>): Promise<T> {
  const before = process.env.TEMPORAL_CLI_PATH;
  process.env.TEMPORAL_CLI_PATH = cli;
  try {
    return await run();
  } finally {
    if (before === undefined) delete process.env.TEMPORAL_CLI_PATH;
    else process.env.TEMPORAL_CLI_PATH = before;
  }
}

test('a dev server that dies while starting is started once more, and then serves', async () => {
  const { cli, starts } = flakyCli(1);
  const port = await freePort();
  const server = await withCli(cli, () => startTemporalDevServer({ port }));
  try {
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1' }, () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', reject);
    });
  } finally {
    await server.stop();
  }
  assert.equal(readFileSync(starts, 'utf8').trim().split('\n').length, 2, 'started twice');
});

test('a dev server that dies twice is an error that says why', async () => {
  const { cli } = flakyCli(2);
  const port = await freePort();
  await assert.rejects(
    withCli(cli, () => startTemporalDevServer({ port })),
    /temporal server start-dev exited.*failed assigning ephemeral port/s,
  );
});
