import getPort from 'get-port';

/** A free loopback port. */
export const freePort = () => getPort({ host: '127.0.0.1' });
