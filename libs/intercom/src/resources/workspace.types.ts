import type { IntercomReference, Unix } from './common.types';

/** components/schemas/admin (GET /admins answers an admin.list of these) */
export type IntercomAdmin = {
  type: 'admin';
  id: string;
  name: string;
  email: string;
  job_title: string;
  away_mode_enabled: boolean;
  away_mode_reassign: boolean;
  away_status_reason_id?: number | null;
  has_inbox_seat: boolean;
  team_ids: number[];
  avatar: string | null;
  team_priority_level?: { primary_team_ids?: number[] | null; secondary_team_ids?: number[] | null } | null;
};

/** components/schemas/team (GET /teams answers a team.list of these) */
export type IntercomTeam = {
  type: 'team';
  id: string;
  name: string;
  admin_ids: number[];
  admin_priority_level?: { primary_admin_ids?: number[] | null; secondary_admin_ids?: number[] | null } | null;
  assignment_limit?: number | null;
  distribution_method?: string | null;
};

/** components/schemas/tag (GET /tags answers a `list` of these; a conversation's tag.list too) */
export type IntercomTag = {
  type: 'tag';
  id: string;
  name: string;
  applied_at?: Unix | null;
  applied_by?: IntercomReference | null;
};

/** components/schemas/company */
export type IntercomCompany = {
  type: 'company';
  id: string;
  name: string;
  app_id: string;
  plan?: { type?: string; id?: string; name?: string };
  company_id: string;
  created_at: Unix;
  updated_at: Unix;
  remote_created_at: Unix;
  last_request_at: Unix;
  size: number;
  website: string;
  industry: string;
  monthly_spend: number;
  session_count: number;
  user_count: number;
  custom_attributes: Record<string, string>;
  tags: { type: 'tag.list'; tags: { type: 'tag'; id: string; name: string }[] };
  segments?: { type: 'segment.list'; segments: unknown[] };
};

/** components/schemas/app: the workspace. `id_code` is the app_id of its webhook notifications. */
export type IntercomApp = {
  type: string;
  id_code: string;
  name: string;
  region: string;
  timezone: string;
  created_at: Unix;
  identity_verification: boolean;
};

/** components/schemas/admin_with_app: GET /me, the admin of the token and its workspace. */
export type IntercomMe = {
  type: 'admin';
  id: string;
  name: string;
  email: string;
  job_title: string;
  away_mode_enabled: boolean;
  away_mode_reassign: boolean;
  has_inbox_seat: boolean;
  team_ids: number[];
  avatar: { type: string; image_url: string | null };
  email_verified: boolean | null;
  app: IntercomApp | null;
};
