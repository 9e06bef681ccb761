import type { AbiEvent } from '../../src/abi/event-abi';

/** ERC-20 `Transfer(address indexed from, address indexed to, uint256 value)`, as the unit tests use it. */
export const TRANSFER_EVENT: AbiEvent = {
  type: 'event',
  name: 'Transfer',
  inputs: [
    { name: 'from', type: 'address', indexed: true },
    { name: 'to', type: 'address', indexed: true },
    { name: 'value', type: 'uint256' },
  ],
};
