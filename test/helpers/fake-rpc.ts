import http from 'node:http';

/**
 * A scripted JSON-RPC provider on loopback, for unit tests of the RPC layer: no node behind it,
 * every answer comes from `reply`, which sees the calls of one HTTP request (one for a single
 * call, several for a batch) and returns either one answer per call or what the whole HTTP
 * exchange does (a status and body as a provider sends them, a hang, a reset socket).
 */

export interface Call {
  id: unknown;
  method: string;
  params: unknown[];
}

export type CallAnswer = { result: unknown } | { error: { code: number; message: string; data?: unknown } };

export type Reply =
  | CallAnswer[]
  /** The raw HTTP answer to the whole request (a gateway's 429, an error page, a truncated body). */
  | { status: number; headers?: Record<string, string>; body: string }
  /** No answer until the client gives up. */
  | 'hang'
  /** The socket destroyed without an answer. */
  | 'reset';

export type Script = (calls: Call[], batch: boolean) => Reply;

export const CHAIN_ID = 31337;

/** Answers the calls every data request carries (eth_chainId 31337, eth_blockNumber `head`); `other` answers the rest. */
export function chain(other: (call: Call) => CallAnswer, head = 100): Script {
  return (calls) =>
    calls.map((c) => {
      if (c.method === 'eth_chainId') return { result: `0x${CHAIN_ID.toString(16)}` };
      if (c.method === 'eth_blockNumber') return { result: `0x${head.toString(16)}` };
      return other(c);
    });
}

export interface FakeRpc {
  url: string;
  /** Every HTTP request received: whether it was a batch, and its methods. */
  requests: Array<{ batch: boolean; methods: string[] }>;
  script: Script;
  stop: () => Promise<void>;
}

export async function startFakeRpc(script: Script): Promise<FakeRpc> {
  const sockets = new Set<import('node:net').Socket>();
  const fake: FakeRpc = { url: '', requests: [], script, stop: async () => {} };
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', () => {
      const parsed = JSON.parse(raw) as Call | Call[];
      const batch = Array.isArray(parsed);
      const calls = (batch ? parsed : [parsed]).map((c) => ({ id: c.id, method: c.method, params: c.params ?? [] }));
      fake.requests.push({ batch, methods: calls.map((c) => c.method) });
      const reply = fake.script(calls, batch);
      if (reply === 'hang') return;
      if (reply === 'reset') {
        req.socket.destroy();
        return;
      }
      if (!Array.isArray(reply)) {
        res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
        res.end(reply.body);
        return;
      }
      const answers = calls.map((c, i) => ({ jsonrpc: '2.0', id: c.id, ...reply[i]! }));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(batch ? answers : answers[0]));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as import('node:net').AddressInfo;
  fake.url = `http://127.0.0.1:${port}/v2/SECRETKEY`;
  fake.stop = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return fake;
}
