// The registries a command talks to: one transport (connections, tokens) per host.
import type { Reference } from '../reference.js';
import { CredentialStore } from './credentials.js';
import { Repository } from './repository.js';
import { RegistryTransport, type TransportOptions } from './transport.js';

export type RegistryOptions = Omit<TransportOptions, 'credentials'> & { credentials?: CredentialStore };

export class Registries {
  private readonly transports = new Map<string, RegistryTransport>();
  private readonly credentials: CredentialStore;

  constructor(private readonly o: RegistryOptions = {}) {
    this.credentials = o.credentials ?? new CredentialStore();
  }

  transport(host: string): RegistryTransport {
    let t = this.transports.get(host);
    if (!t) {
      t = new RegistryTransport(host, { ...this.o, credentials: this.credentials });
      this.transports.set(host, t);
    }
    return t;
  }

  repository(ref: Reference): Repository {
    return new Repository(this.transport(ref.domain), ref.path);
  }

  async close(): Promise<void> {
    await Promise.all([...this.transports.values()].map((t) => t.close()));
  }
}
