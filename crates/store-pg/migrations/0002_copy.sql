-- aibomdb on PostgreSQL, migration 2: what `aibomdb copy` needs.
--
-- A redb store written before it recorded when an advisory was first
-- loaded has no such time for those records; a copy keeps them without one
-- rather than inventing it.
ALTER TABLE advisories ALTER COLUMN seen_at DROP NOT NULL;
