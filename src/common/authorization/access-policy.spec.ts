import type { UserRole } from '../principal';
import {
  ActingTarget,
  Actor,
  canActOn,
  canCreateKeyFor,
  canManageKey,
  effectiveRights,
  isProvisionedUser,
  keyListing,
  KeyTarget,
  rankOf,
  userLookupOrganization,
} from './access-policy';

const ORG_A = 'org-a';
const ORG_B = 'org-b';

function actor(overrides: Partial<Actor> = {}): Actor {
  return {
    keyId: 'key-actor',
    userId: 'actor',
    organizationId: ORG_A,
    role: 'member',
    isProvisioner: false,
    isOperator: false,
    status: 'active',
    scope: 'full',
    ...overrides,
  };
}

function target(overrides: Partial<ActingTarget> = {}): ActingTarget {
  return {
    id: 'target',
    organizationId: ORG_A,
    role: 'member',
    isProvisioner: false,
    isOperator: false,
    status: 'active',
    provisionedBy: null,
    ...overrides,
  };
}

function key(owner: ActingTarget, overrides: Partial<KeyTarget> = {}): KeyTarget {
  return { id: 'key-target', scope: 'full', billingOrganizationId: owner.organizationId, owner, ...overrides };
}

const owner = actor({ role: 'owner' });
const admin = actor({ role: 'admin' });
const member = actor({ role: 'member' });
const provisioner = actor({ role: 'member', isProvisioner: true });
const operator = actor({ role: 'owner', isOperator: true });

describe('effectiveRights', () => {
  it.each<[string, Actor, Partial<ReturnType<typeof effectiveRights>>]>([
    ['an owner', owner, { rank: 'owner', manages: true, provisions: false, operates: false, createsKeys: true }],
    ['an admin', admin, { rank: 'admin', manages: true, provisions: false, operates: false }],
    ['a member', member, { rank: 'member', manages: false, provisions: false, operates: false, createsKeys: true }],
    ['a member provisioner', provisioner, { rank: 'member', manages: true, provisions: true, operates: false }],
    ['an operator', operator, { rank: 'operator', manages: true, operates: true }],
  ])('gives %s its rank and rights', (_name, who, expected) => {
    expect(effectiveRights(who)).toMatchObject(expected);
  });

  it('makes a restricted key a plain member that creates no keys and sees only itself, whatever its user is', () => {
    for (const who of [owner, admin, provisioner, operator]) {
      expect(effectiveRights({ ...who, scope: 'restricted' })).toEqual({
        rank: 'member',
        provisions: false,
        manages: false,
        operates: false,
        createsKeys: false,
        onlyItselfAmongKeys: true,
      });
    }
  });

  it('makes a pending_claim user a plain member until it is claimed', () => {
    expect(effectiveRights({ ...admin, status: 'pending_claim' })).toMatchObject({
      rank: 'member',
      manages: false,
      createsKeys: true,
    });
  });
});

describe('rankOf', () => {
  it('orders operator > owner > admin > member and counts a pending placeholder as a member', () => {
    expect(rankOf({ role: 'member', isOperator: true, status: 'active' })).toBe('operator');
    expect(rankOf({ role: 'owner', isOperator: false, status: 'active' })).toBe('owner');
    expect(rankOf({ role: 'admin', isOperator: false, status: 'pending_claim' })).toBe('member');
  });
});

describe('canActOn', () => {
  const roles: UserRole[] = ['owner', 'admin', 'member'];
  // actor role → which target roles it may act on (same organization, no flags)
  const table: Record<UserRole, UserRole[]> = { owner: ['admin', 'member'], admin: ['member'], member: [] };

  it.each(roles)('lets an %s act on exactly the lower ranks of its organization', (role) => {
    for (const targetRole of roles) {
      const expected = table[role].includes(targetRole) ? 'allowed' : 'forbidden';
      expect([targetRole, canActOn(actor({ role }), target({ role: targetRole }))]).toEqual([targetRole, expected]);
    }
  });

  it('always lets a user act on itself', () => {
    for (const who of [member, { ...owner, scope: 'restricted' as const }, { ...admin, status: 'pending_claim' as const }]) {
      expect(canActOn(who, target({ id: who.userId, role: who.role }))).toBe('allowed');
    }
  });

  it("answers not_found for another organization's users, except to the operator, who outranks everyone", () => {
    expect(canActOn(owner, target({ organizationId: ORG_B }))).toBe('not_found');
    expect(canActOn(provisioner, target({ organizationId: ORG_B, provisionedBy: 'p' }))).toBe('not_found');
    expect(canActOn(operator, target({ organizationId: ORG_B, role: 'owner' }))).toBe('allowed');
    expect(canActOn({ ...operator, scope: 'restricted' }, target({ organizationId: ORG_B }))).toBe('not_found');
  });

  it('lets the operator look users up in every organization, everyone else in its own', () => {
    expect(userLookupOrganization(operator)).toBeNull();
    expect(userLookupOrganization({ ...operator, scope: 'restricted' })).toBe(ORG_A);
    expect(userLookupOrganization(owner)).toBe(ORG_A);
  });

  it('lets nobody but an operator act on an owner, a provisioner or an operator', () => {
    const protectedTargets = [target({ role: 'owner' }), target({ isProvisioner: true }), target({ isOperator: true })];
    for (const t of protectedTargets) {
      expect(canActOn(owner, t)).toBe('forbidden');
      expect(canActOn(admin, t)).toBe('forbidden');
      expect(canActOn(provisioner, t)).toBe('forbidden');
      expect(canActOn(operator, t)).toBe('allowed');
    }
  });

  it('lets a provisioner act on the flagless members and admins its organization provisioned', () => {
    expect(canActOn(provisioner, target({ provisionedBy: 'someone', role: 'member' }))).toBe('allowed');
    expect(canActOn(provisioner, target({ provisionedBy: 'someone', role: 'admin' }))).toBe('allowed');
    expect(canActOn(provisioner, target({ provisionedBy: null, role: 'member' }))).toBe('forbidden');
    expect(canActOn(provisioner, target({ provisionedBy: 'someone', role: 'admin', isProvisioner: true }))).toBe('forbidden');
  });

  it('gives a restricted key or a pending placeholder no right over others', () => {
    const restrictedOwner = { ...owner, scope: 'restricted' as const };
    const restrictedProvisioner = { ...provisioner, scope: 'restricted' as const };
    const pendingAdmin = { ...admin, status: 'pending_claim' as const };
    for (const who of [restrictedOwner, restrictedProvisioner, pendingAdmin]) {
      expect(canActOn(who, target({ role: 'member', provisionedBy: 'someone' }))).toBe('forbidden');
    }
  });

  it("ranks a pending placeholder's target by what it is now (a member), not by the role its claim will give", () => {
    expect(canActOn(admin, target({ role: 'admin', status: 'pending_claim', provisionedBy: 'p' }))).toBe('allowed');
    expect(canActOn(admin, target({ role: 'admin', status: 'active' }))).toBe('forbidden');
  });
});

describe('isProvisionedUser', () => {
  it('needs provisioned_by, no flag, and the member or admin role', () => {
    expect(isProvisionedUser(target({ provisionedBy: 'p' }))).toBe(true);
    expect(isProvisionedUser(target({ provisionedBy: 'p', role: 'owner' }))).toBe(false);
    expect(isProvisionedUser(target({ provisionedBy: 'p', isOperator: true }))).toBe(false);
  });
});

describe('canCreateKeyFor', () => {
  it('follows acting, and refuses a restricted key even for its own user', () => {
    expect(canCreateKeyFor(admin, target({ role: 'owner' }))).toBe('forbidden');
    expect(canCreateKeyFor(admin, target({ isProvisioner: true }))).toBe('forbidden');
    expect(canCreateKeyFor(admin, target())).toBe('allowed');
    expect(canCreateKeyFor(member, target({ id: member.userId }))).toBe('allowed');
    expect(canCreateKeyFor({ ...owner, scope: 'restricted' }, target({ id: owner.userId, role: 'owner' }))).toBe('forbidden');
  });
});

describe('canManageKey', () => {
  const outsider = target({ id: 'claimant', organizationId: ORG_B, role: 'admin' });
  const movedKey = key(outsider, { billingOrganizationId: ORG_A, scope: 'restricted' });

  it("lets the paying organization's managers list and revoke a key an outsider holds, not rotate it", () => {
    for (const manager of [owner, admin, provisioner]) {
      expect(canManageKey(manager, movedKey, 'list')).toBe('allowed');
      expect(canManageKey(manager, movedKey, 'revoke')).toBe('allowed');
      expect(canManageKey(manager, movedKey, 'rotate')).toBe('not_found');
    }
    expect(canManageKey(member, movedKey, 'revoke')).toBe('not_found');
  });

  it('does not let the paying organization pass the ranks inside its own organization', () => {
    expect(canManageKey(admin, key(target({ role: 'owner' })), 'revoke')).toBe('forbidden');
  });

  it('lets a restricted key list and revoke itself only, and rotate nothing', () => {
    const restricted = { ...admin, scope: 'restricted' as const, keyId: 'k1' };
    const self = target({ id: restricted.userId, role: 'admin' });
    expect(canManageKey(restricted, key(self, { id: 'k1' }), 'revoke')).toBe('allowed');
    expect(canManageKey(restricted, key(self, { id: 'k1' }), 'rotate')).toBe('forbidden');
    expect(canManageKey(restricted, key(self, { id: 'k2' }), 'revoke')).toBe('forbidden');
    expect(canManageKey(restricted, key(target({ organizationId: ORG_B })), 'revoke')).toBe('not_found');
  });

  it('lets the owner of a restricted key rotate it with a full key', () => {
    const claimant = actor({ userId: 'claimant', organizationId: ORG_B, role: 'admin' });
    expect(canManageKey(claimant, movedKey, 'rotate')).toBe('allowed');
  });
});

describe('keyListing', () => {
  it("lists a manager's own keys and the keys its organization pays for", () => {
    expect(keyListing(admin, null)).toEqual({
      decision: 'allowed',
      userId: admin.userId,
      onlyKeyId: null,
      paidByOrganizationId: ORG_A,
    });
    expect(keyListing(member, null)).toEqual({
      decision: 'allowed',
      userId: member.userId,
      onlyKeyId: null,
      paidByOrganizationId: null,
    });
  });

  it('lists only the calling key for a restricted key', () => {
    const restricted = { ...owner, scope: 'restricted' as const };
    expect(keyListing(restricted, null)).toMatchObject({ onlyKeyId: restricted.keyId, paidByOrganizationId: null });
    expect(keyListing(restricted, target())).toEqual({ decision: 'forbidden' });
  });

  it("lists another user's keys by rank", () => {
    expect(keyListing(admin, target())).toMatchObject({ decision: 'allowed', userId: 'target' });
    expect(keyListing(admin, target({ role: 'owner' }))).toEqual({ decision: 'forbidden' });
    expect(keyListing(admin, target({ organizationId: ORG_B }))).toEqual({ decision: 'not_found' });
  });
});
