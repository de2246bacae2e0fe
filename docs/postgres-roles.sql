-- Roles and schema for the VGOS store (docs/postgres-roles.md). Run once as a superuser:
--   psql -v owner=vgos_owner -v app=vgos_app -v schema=vgos -f docs/postgres-roles.sql "$ADMIN_URL"
-- Then, as the owner role, `vgos ledger grant-app-role vgos_app` migrates and grants the application role.
-- Set passwords (or certificate/IAM authentication) for both LOGIN roles separately; none is set here.

CREATE ROLE :"owner" LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS;
CREATE ROLE :"app" LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS;
CREATE SCHEMA :"schema" AUTHORIZATION :"owner";
REVOKE ALL ON SCHEMA :"schema" FROM PUBLIC;
-- the application role may not SET session_replication_role (superusers only by default; never GRANT SET on it)
