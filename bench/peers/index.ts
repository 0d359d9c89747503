/**
 * Entry point for the benchmark runner: which peers can run here, and loading them.
 *
 * Like `./peer.ts`, this file imports only Node built-ins and `./peer.ts`: each peer module is
 * imported at run time from a computed specifier, so code type-checked by the root tsconfig can
 * import this file even when `bench/peers` (its own package, installed with
 * `npm ci --prefix bench/peers`) is not installed.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PEER_NAMES, type Availability, type PeerModule, type PeerName, type PeerOptions, type SagaPeer } from './peer.js';

export * from './peer.js';

/** Directory of the peers package (`bench/peers`). */
export const PEERS_DIR = dirname(fileURLToPath(import.meta.url));

/** Why Temporal is not among the peers that run. */
export const TEMPORAL_REASON =
  "Temporal cannot run here: its TypeScript test environment (@temporalio/testing " +
  "TestWorkflowEnvironment) downloads the Temporal dev-server binary at run time, and this machine " +
  'reaches only the npm and Debian package registries.';

interface PeerEntry {
  /** Packages (names in bench/peers/package.json) the peer needs installed. */
  readonly packages: readonly string[];
  /** Module file in this directory, or null when the peer cannot run at all. */
  readonly module: string | null;
  /** Set when the peer can never run here. */
  readonly reason?: string;
}

const ENTRIES: Record<PeerName, PeerEntry> = {
  'hand-written': { packages: [], module: './hand-written.js' },
  'node-sagas': { packages: ['node-sagas'], module: './node-sagas.js' },
  dbos: { packages: ['@dbos-inc/dbos-sdk', 'pg'], module: './dbos.js' },
  restate: { packages: ['@restatedev/restate-sdk', '@restatedev/restate-server'], module: './restate.js' },
  temporal: { packages: [], module: null, reason: TEMPORAL_REASON },
};

/** A peer could not be loaded; `reason` says why. */
export class PeerUnavailableError extends Error {
  constructor(
    readonly peer: PeerName,
    readonly reason: string,
  ) {
    super(`peer ${peer} cannot run: ${reason}`);
    this.name = 'PeerUnavailableError';
  }
}

/**
 * Type guard for peer names.
 * @param name - a string, e.g. from the command line
 */
export function isPeerName(name: string): name is PeerName {
  return (PEER_NAMES as readonly string[]).includes(name);
}

/** Versions pinned in bench/peers/package.json (dependencies). */
function pinnedVersions(): Record<string, string> {
  const manifest = JSON.parse(readFileSync(join(PEERS_DIR, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  return manifest.dependencies ?? {};
}

/**
 * Checks that `packages` are installed in bench/peers/node_modules at the pinned versions.
 * @returns null when they are, else the reason
 */
function missingPackages(packages: readonly string[]): string | null {
  const pinned = pinnedVersions();
  for (const pkg of packages) {
    const manifest = join(PEERS_DIR, 'node_modules', pkg, 'package.json');
    if (!existsSync(manifest)) {
      return `${pkg} is not installed: run \`npm ci --prefix bench/peers\``;
    }
    const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
    const want = pinned[pkg];
    if (want !== undefined && want !== version) {
      return `${pkg} ${version} is installed but ${want} is pinned: run \`npm ci --prefix bench/peers\``;
    }
  }
  return null;
}

/** True when every peer package is installed at its pinned version. */
export function peersInstalled(): boolean {
  return missingPackages(Object.keys(pinnedVersions())) === null;
}

/**
 * Installs bench/peers from its lockfile (`npm ci --prefix bench/peers`) unless every pinned
 * package is already there. Output goes to this process's stderr.
 * @param options.force - reinstall even when everything is present
 */
export async function installPeers(options: { force?: boolean } = {}): Promise<void> {
  if (!options.force && peersInstalled()) return;
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  await new Promise<void>((resolve, reject) => {
    const child = spawn(npm, ['ci', '--prefix', PEERS_DIR, '--no-audit', '--no-fund'], {
      stdio: ['ignore', process.stderr, process.stderr],
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`npm ci --prefix ${PEERS_DIR} failed (${signal ?? `exit ${code}`})`));
    });
  });
}

async function importModule(entry: PeerEntry): Promise<PeerModule> {
  if (entry.module === null) throw new Error('peer has no module');
  // A computed specifier: TypeScript does not follow it, so the root type-check never needs the peers installed.
  const specifier: string = entry.module;
  return (await import(specifier)) as PeerModule;
}

/**
 * Whether a peer can run here: its packages are installed, its binaries run, its database answers.
 * Never throws; never starts anything long-lived.
 * @param name - the peer
 * @param options - peer options (database URL, ...)
 */
export async function checkPeer(name: PeerName, options: PeerOptions = {}): Promise<Availability> {
  const entry = ENTRIES[name];
  if (entry.reason !== undefined) return { ok: false, reason: entry.reason };
  const missing = missingPackages(entry.packages);
  if (missing !== null) return { ok: false, reason: missing };
  try {
    return await (await importModule(entry)).probe(options);
  } catch (error) {
    return { ok: false, reason: `loading the ${name} peer failed: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/**
 * Every peer with whether it can run here.
 * @param options - peer options (database URL, ...)
 */
export async function listPeers(options: PeerOptions = {}): Promise<Array<{ name: PeerName } & Availability>> {
  const result: Array<{ name: PeerName } & Availability> = [];
  for (const name of PEER_NAMES) result.push({ name, ...(await checkPeer(name, options)) });
  return result;
}

/**
 * Loads a peer, not yet set up: call `setup()`, then `runBatch()` as often as needed, then
 * `teardown()` (in a `finally`). Run one durable peer at a time: DBOS is a process-wide singleton.
 * @param name - the peer
 * @param options - peer options (database URL, ...)
 * @throws PeerUnavailableError when `checkPeer(name)` says it cannot run
 */
export async function loadPeer(name: PeerName, options: PeerOptions = {}): Promise<SagaPeer> {
  const availability = await checkPeer(name, options);
  if (!availability.ok) throw new PeerUnavailableError(name, availability.reason);
  return (await importModule(ENTRIES[name])).createPeer(options);
}
