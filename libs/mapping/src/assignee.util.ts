import type { Lookups } from './mapping.types';
import { assigneeId, optionalString, setIfPresent } from './value.util';

/** Names of the assigned team and admin (GET /teams, GET /admins via the directory). */
export function assigneeNames(
  adminAssigneeId: unknown,
  teamAssigneeId: unknown,
  lookups: Lookups,
): { teamName?: string; adminName?: string; adminEmail?: string } {
  const out: { teamName?: string; adminName?: string; adminEmail?: string } = {};
  const teamId = assigneeId(teamAssigneeId);
  const adminId = assigneeId(adminAssigneeId);
  const team = teamId ? lookups.team(teamId) : undefined;
  const admin = adminId ? lookups.admin(adminId) : undefined;
  setIfPresent(out, 'teamName', optionalString(team?.name));
  setIfPresent(out, 'adminName', optionalString(admin?.name));
  setIfPresent(out, 'adminEmail', optionalString(admin?.email));
  return out;
}
