import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redactor, redactUrl } from '../../src/redact';

test('endpoint labels keep scheme and host, never paths, queries or credentials', () => {
  assert.equal(redactUrl('https://eth-mainnet.example.com/v2/KEY123'), 'https://eth-mainnet.example.com/…');
  assert.equal(redactUrl('http://127.0.0.1:8545'), 'http://127.0.0.1:8545');
  assert.equal(redactUrl('https://user:pw@host.example/?apikey=X'), 'https://host.example/…');
});

test('the redactor removes whole URLs, their keys and passwords, also URL-encoded', () => {
  const r = new Redactor().addUrl('https://rpc.example.com/v2/SECRETKEY').addUrl('postgres://u:p%40ss-word@db:5432/x');
  const text = 'failed https://rpc.example.com/v2/SECRETKEY and /v2/SECRETKEY and p@ss-word and p%40ss-word';
  const out = r.redact(text);
  assert.ok(!out.includes('SECRETKEY'), out);
  assert.ok(!out.includes('ss-word'), out);
  assert.match(out, /https:\/\/rpc\.example\.com\/…/);
});
