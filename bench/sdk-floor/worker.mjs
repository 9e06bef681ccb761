// The Temporal SDK's own start-up, for bench/startup.ts: a worker with nothing of ours (no tracing
// interceptors, no activity host, one trivial workflow in a prebuilt bundle). Plain JavaScript,
// so no TypeScript loader counts against it; its two lines are the ones the bench waits for.
// Its one argument: the prebuilt workflow bundle (bench/sdk-floor/workflows.ts).
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';

Runtime.install({ shutdownSignals: [], logger: new DefaultLogger('WARN') });
const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS });
const worker = await Worker.create({
  connection,
  taskQueue: process.env.TEMPORAL_TASK_QUEUE,
  workflowBundle: { codePath: process.argv[2] },
  activities: {
    async ping() {
      console.log(JSON.stringify({ msg: 'first activity' }));
    },
  },
});
process.once('SIGTERM', () => worker.shutdown());
console.log(JSON.stringify({ msg: 'worker started' }));
await worker.run();
await connection.close();
