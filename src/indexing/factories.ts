import { EventDecoder } from '../abi/decode';
import { eventTables } from '../abi/layout';
import type { FactoryChild } from '../db/factory-children';
import type { LogFilter, RawLog } from '../rpc/client';
import type { ContractSpec, IndexerSpec } from '../spec';
import { quantity, type LogSource } from './log-router';

interface Watch {
  contract: ContractSpec;
  decoder: EventDecoder;
  /** The parameter's position among the event's arguments. */
  column: number;
}

/** A factory event found in a range: the child it names. */
export type FoundChild = FactoryChild & { blockHash: string };

/**
 * The factories' side of a spec: the getLogs filter for their events in a range (their addresses
 * and event selectors only, so discovery is cheap however many children there are), and each
 * factory log decoded into the child it names.
 */
export class FactoryWatcher implements LogSource<FoundChild> {
  /** topic0 → factory address → what to read. */
  private readonly watches = new Map<string, Map<string, Watch>>();

  constructor(private readonly spec: IndexerSpec) {
    for (const contract of spec.contracts) {
      if (!contract.factory) continue;
      const [table] = eventTables(`${contract.name}_factory`, [contract.factory.event]);
      const column = table!.event.inputs.findIndex((p) => p.name === contract.factory!.parameter);
      const watch = { contract, decoder: new EventDecoder(table!), column };
      let byAddress = this.watches.get(table!.topic0);
      if (!byAddress) this.watches.set(table!.topic0, (byAddress = new Map()));
      for (const address of contract.factory.addresses) byAddress.set(address, watch);
    }
  }

  get empty(): boolean {
    return this.watches.size === 0;
  }

  /** The first block any factory contract indexes from (where discovery starts). */
  get startBlock(): number {
    return Math.min(...this.spec.contracts.filter((c) => c.factory).map((c) => c.startBlock));
  }

  filtersFor(fromBlock: number, toBlock: number): LogFilter[] {
    const addresses = new Set<string>();
    for (const byAddress of this.watches.values()) {
      for (const [address, watch] of byAddress) {
        const c = watch.contract;
        if (c.startBlock <= toBlock && (c.endBlock === undefined || c.endBlock >= fromBlock)) addresses.add(address);
      }
    }
    return addresses.size === 0 ? [] : [{ fromBlock, toBlock, addresses: [...addresses], topic0s: [...this.watches.keys()] }];
  }

  decode(log: RawLog): FoundChild | undefined {
    const watch = this.watches.get((log.topics[0] ?? '').toLowerCase())?.get(log.address.toLowerCase());
    if (!watch) return undefined;
    const blockNumber = quantity(log.blockNumber, 'blockNumber');
    const logIndex = quantity(log.logIndex, 'logIndex');
    const c = watch.contract;
    if (blockNumber < c.startBlock || (c.endBlock !== undefined && blockNumber > c.endBlock)) return undefined;
    const cells = watch.decoder.decode(log.topics, log.data, () => `factory log ${logIndex} of block ${blockNumber} from ${log.address.toLowerCase()}`);
    return { contract: c.name, address: String(cells[watch.column]), blockNumber, logIndex, blockHash: log.blockHash.toLowerCase() };
  }
}
