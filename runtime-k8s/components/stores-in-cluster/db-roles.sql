-- The shop's database roles. Idempotent; run by psql as the superuser (in-cluster demo: the
-- image's POSTGRES_USER) or the RDS master, connected to the shop's database:
--   SHOP_DB_OWNER_PASSWORD=... SHOP_DB_APP_PASSWORD=... psql --no-psqlrc -f db-roles.sql
-- Passwords come from the environment (not argv); each may be clear text or a SCRAM-SHA-256
-- verifier (ansible/roles/shop sends verifiers to RDS, whose log_statement=ddl logs ALTER ROLE).
--   shop_owner  owns the database, schema public and every table: migrations only (the
--               short-lived SpinApp shop-migrator, Secret shop-db-owner)
--   shop_app    what the serving SpinApps use (Secret shop-secrets, db_url): reads and writes
--               rows, creates nothing, owns nothing
-- Used by components/stores-in-cluster (db-roles.sh, the postgres container's postStart hook)
-- and by ansible/roles/shop against RDS.
\set ON_ERROR_STOP on
\getenv owner_pw SHOP_DB_OWNER_PASSWORD
\getenv app_pw SHOP_DB_APP_PASSWORD
\if :{?owner_pw}
\else
DO $$ BEGIN RAISE EXCEPTION 'SHOP_DB_OWNER_PASSWORD is not set'; END $$;
\endif
\if :{?app_pw}
\else
DO $$ BEGIN RAISE EXCEPTION 'SHOP_DB_APP_PASSWORD is not set'; END $$;
\endif

SELECT 'CREATE ROLE shop_owner LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'shop_owner') \gexec
SELECT 'CREATE ROLE shop_app LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'shop_app') \gexec
-- Only LOGIN and the password: attributes such as SUPERUSER may not even be named by the RDS
-- master, and CREATE ROLE's defaults (NOSUPERUSER NOCREATEDB NOCREATEROLE ...) are what we want.
ALTER ROLE shop_owner WITH LOGIN PASSWORD :'owner_pw';
ALTER ROLE shop_app WITH LOGIN PASSWORD :'app_pw';

-- The RDS master is not a superuser: to hand objects to shop_owner it must be able to act as it.
GRANT shop_owner TO CURRENT_USER;
SELECT format('ALTER DATABASE %I OWNER TO shop_owner', current_database()) \gexec
ALTER SCHEMA public OWNER TO shop_owner;
-- Tables created before the split (demo volumes initialised as the superuser) move to the owner;
-- their indexes and owned sequences follow.
SELECT format('ALTER TABLE %I.%I OWNER TO shop_owner', schemaname, tablename)
  FROM pg_tables WHERE schemaname = 'public' AND tableowner <> 'shop_owner' \gexec

SELECT format('GRANT CONNECT ON DATABASE %I TO shop_app', current_database()) \gexec
GRANT USAGE ON SCHEMA public TO shop_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO shop_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO shop_app;
-- Whatever later migrations create as shop_owner is usable by the app the same way.
ALTER DEFAULT PRIVILEGES FOR ROLE shop_owner IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO shop_app;
ALTER DEFAULT PRIVILEGES FOR ROLE shop_owner IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO shop_app;
