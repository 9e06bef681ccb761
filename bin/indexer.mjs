#!/usr/bin/env node
// The `indexer` command. tsx runs the TypeScript sources directly (and lets config files be .ts).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/client.ts');
await main();
