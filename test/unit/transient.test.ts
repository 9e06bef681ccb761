import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTransientDatabaseError } from '../../src/db/transient';

/** A server error as pg builds it: a severity and a SQLSTATE code. */
function serverError(code: string, message = 'server says no'): Error {
  return Object.assign(new Error(message), { severity: 'ERROR', code });
}

test('server errors: the connection, shutdown, resources and lost races are transient; what a statement got wrong is not', () => {
  for (const code of ['08006', '08003', '57P01', '57P02', '57P03', '53300', '53100', '40001', '40P01']) {
    assert.equal(isTransientDatabaseError(serverError(code)), true, code);
  }
  for (const code of ['22P02', '23505', '42P01', '42601', '25P02', '57014', '0A000']) {
    assert.equal(isTransientDatabaseError(serverError(code)), false, code);
  }
});

test('errors raised before or without the server: a lost socket is transient, a bad value is not', () => {
  for (const [code, message] of [
    ['EPIPE', 'write EPIPE'],
    ['ECONNRESET', 'read ECONNRESET'],
    ['ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'],
    [undefined, 'Connection terminated unexpectedly'],
    [undefined, 'Client has encountered a connection error and is not queryable'],
  ] as const) {
    assert.equal(isTransientDatabaseError(Object.assign(new Error(message), code ? { code } : {})), true, message);
  }
  assert.equal(isTransientDatabaseError(new TypeError('Do not know how to serialize a BigInt')), false);
  assert.equal(isTransientDatabaseError('not an error'), false);
});
