import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cpuSnapshot, cpuSpent, describeCpu, type CpuSnapshot } from '../../bench/cpu';

test("the bench's CPU split counts a process that started in between whole, and one that ended not at all", () => {
  const before: CpuSnapshot = new Map([
    [10, { group: 'postgres', ticks: 500 }],
    [11, { group: 'postgres', ticks: 900 }], // ends before the second snapshot
    [20, { group: 'anvil', ticks: 100 }],
  ]);
  const after: CpuSnapshot = new Map([
    [10, { group: 'postgres', ticks: 740 }],
    [12, { group: 'postgres', ticks: 60 }], // a backend that started in between
    [20, { group: 'anvil', ticks: 430 }],
    [30, { group: 'worker', ticks: 1250 }],
  ]);
  assert.deepEqual(cpuSpent(before, after), { postgres: 3, anvil: 3.3, worker: 12.5 });
  assert.equal(describeCpu(cpuSpent(before, after)), 'CPU s: worker 12.5, anvil 3.3, PostgreSQL 3.0');
  assert.equal(cpuSpent(undefined, after), undefined);
  assert.equal(describeCpu(undefined), '');
  assert.equal(describeCpu({ bench: 0 }), '');
});

test("the bench's CPU snapshot finds this process and sees its CPU grow", { skip: process.platform !== 'linux' && 'reads /proc' }, () => {
  const before = cpuSnapshot();
  const until = Date.now() + 300;
  let spin = 0;
  while (Date.now() < until) spin += 1;
  assert.ok(spin > 0);
  const spent = cpuSpent(before, cpuSnapshot());
  assert.ok((spent?.bench ?? 0) >= 0.1, `this process spent ${spent?.bench} s`);
  assert.equal(spent?.worker, undefined);
});
