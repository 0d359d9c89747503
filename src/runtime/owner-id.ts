import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * The default id an orchestrator or a worker holds its leases under: the host name, the process
 * id and a random suffix (`db-host:4242:9f03ab`), so that two of them in one process are told apart.
 *
 * @internal
 */
export function defaultOwnerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}
