// The workflow bundle's entry point: every workflow type the worker registers.
export { indexerWorkflow } from './indexer';
export { reorgRollbackWorkflow } from './reorg-rollback';
export { verifyWorkflow } from './verify';
