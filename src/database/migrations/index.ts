import { InitialSchema1795434712884 } from './1795434712884-InitialSchema';

/** Every migration, in order. `npm run migration:generate` writes a new file; add it here. */
export const MIGRATIONS: Function[] = [InitialSchema1795434712884];
