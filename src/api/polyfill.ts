/**
 * `Promise.withResolvers` for Node 20. PostGraphile 5, grafast and grafserv declare Node ≥ 22 and
 * call it; on Node 20 every connection query fails ("Promise.withResolvers is not a function", or
 * "reading 'items'" inside grafast's connection step) without it. Imported first by every module of
 * src/api that loads them (ES modules run their imports in order), so it is in place before they load.
 * It also sets GRAPHILE_ENV (read when grafast loads) unless the environment says otherwise.
 */

import { defaultGraphileEnv } from '../env';

defaultGraphileEnv();

interface WithResolvers<T> {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
}

const PromiseConstructor = Promise as unknown as { withResolvers?: <T>() => WithResolvers<T> };

if (typeof PromiseConstructor.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T>(this: PromiseConstructor): WithResolvers<T> {
      let resolve!: WithResolvers<T>['resolve'];
      let reject!: WithResolvers<T>['reject'];
      const promise = new this<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

export const PROMISE_WITH_RESOLVERS = true;
