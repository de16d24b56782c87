import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { displayPrefix, hashApiKey, isWellFormedApiKey } from '../api-keys/api-key-format';
import { ApiKeysRepository } from '../api-keys/api-keys.repository';
import { parseEmailAddress } from '../common/email';
import { AppConfig, StartupRefusal } from '../config/app-config';
import { OrganizationsRepository } from './organizations.repository';
import { UsersRepository } from './users.repository';
import { UsersService } from './users.service';

/**
 * At start-up: the operator ADMIN_EMAIL exists; ADMIN_API_KEY, when set, is one of its live keys;
 * otherwise, if it has no live key, one is generated and printed once. Idempotent across restarts
 * and safe when several instances start together (one transaction under an advisory lock).
 *
 * It never grants what the database does not already say: an existing user that is not the active
 * operator is not promoted, and a revoked ADMIN_API_KEY is not brought back — start-up stops with a
 * StartupRefusal saying why (never printing the key), and nothing is written.
 */
@Injectable()
export class OperatorBootstrap implements OnApplicationBootstrap {
  private readonly logger = new Logger(OperatorBootstrap.name);

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly usersService: UsersService,
    private readonly users: UsersRepository,
    private readonly organizations: OrganizationsRepository,
    private readonly keys: ApiKeysRepository,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const generated = await this.ensureOperator();
    if (generated) {
      // Printed once, to the console only: the key is never stored in plaintext or logged again.
      process.stdout.write(
        `\n  Operator ${this.config.adminEmail} has no API key; generated one (shown only now):\n\n` +
          `    X-API-Key: ${generated}\n\n  Set ADMIN_API_KEY to choose the operator key yourself.\n\n`,
      );
    }
  }

  /** Returns the generated plaintext key, when one was generated. */
  async ensureOperator(): Promise<string | null> {
    const email = this.config.adminEmail;
    const parsed = parseEmailAddress(email, false);
    if (!parsed.ok) throw new StartupRefusal(`ADMIN_EMAIL=${JSON.stringify(email)}: ${parsed.reason}`);
    const adminKey = this.config.adminApiKey;
    if (adminKey !== undefined && !isWellFormedApiKey(adminKey)) {
      // Accepted as that exact key (the verifier knows it), but worth a word: it is not pvk_ + checksum.
      this.logger.warn('ADMIN_API_KEY is not a generated Provisio key (pvk_ + 38 base62 with checksum); it is accepted as is.');
    }
    return this.dataSource.transaction(async (manager) => {
      await this.users.lockOperatorBootstrap(manager);
      let operator = await this.users.findByEmail(manager, email);
      if (!operator) {
        const organization = await this.organizations.ensure(manager, parsed.address.domain);
        operator = await this.usersService.insertUser(manager, {
          email,
          organizationId: organization.id,
          role: organization.created ? 'owner' : 'admin',
          isOperator: true,
        });
        this.logger.log(`Created operator ${email}`);
      } else if (!operator.isOperator) {
        // Whoever holds this address (and its keys) would become the operator: refuse.
        throw new StartupRefusal(
          `ADMIN_EMAIL=${email} is an existing user that is not the operator; start-up refuses to promote it. ` +
            "Set ADMIN_EMAIL to the operator's address, or to an address no user has yet.",
        );
      } else if (operator.status !== 'active') {
        throw new StartupRefusal(
          `ADMIN_EMAIL=${email} is the operator, but its status is ${operator.status}; start-up does not reactivate it. ` +
            'Another operator may reactivate it (PATCH /api/v1/admin/users/{id}), or set ADMIN_EMAIL to a new address.',
        );
      }

      if (adminKey !== undefined) {
        const existing = await this.keys.findByHash(manager, hashApiKey(adminKey));
        if (existing && existing.userId !== operator.id) {
          throw new StartupRefusal(`ADMIN_API_KEY is already a key of another user; choose another key for ${email}`);
        }
        if (!existing) {
          await this.keys.insertChosen(
            manager,
            { userId: operator.id, billingOrganizationId: operator.organizationId },
            adminKey,
            'ADMIN_API_KEY',
          );
          this.logger.log(`Registered ADMIN_API_KEY (${displayPrefix(adminKey)}…) for operator ${email}`);
        } else if (existing.revokedAt !== null) {
          // Revoked on purpose (perhaps leaked): bringing it back at every restart would undo that.
          throw new StartupRefusal(
            `ADMIN_API_KEY is a revoked key of operator ${email} (revoked ${existing.revokedAt.toISOString()}); ` +
              'start-up does not bring it back. Set ADMIN_API_KEY to a new key, or unset it to have one generated.',
          );
        }
        return null;
      }

      if ((await this.keys.countLive(manager, operator.id)) > 0) return null;
      const issued = await this.keys.issue(
        manager,
        { userId: operator.id, billingOrganizationId: operator.organizationId },
        'generated at start-up',
      );
      return issued.plaintext;
    });
  }
}
