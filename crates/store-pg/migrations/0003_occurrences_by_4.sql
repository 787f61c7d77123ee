-- aibomdb on PostgreSQL, migration 3: `occurrences` in 4 hash partitions by
-- deployment instead of 16.
--
-- Who lists a package is read by package: every partition's index is
-- probed once per package asked about. An advisory naming 66 packages cost
-- 1,056 probes (5 ms at 10,000 deployments) with 16 partitions, 264 with
-- 4. The table stays partitioned by deployment (a deletion touches one
-- partition; a distributed PostgreSQL can shard it by the same key).
-- The rows are moved in this transaction: on a large database this
-- migration takes about as long as copying the table once.
CREATE TABLE occurrences_by_4 (
    deployment_id int NOT NULL,
    document_id bigint NOT NULL,
    package_id bigint NOT NULL
) PARTITION BY HASH (deployment_id);
DO $$
BEGIN
    FOR n IN 0..3 LOOP
        EXECUTE format('CREATE TABLE occurrences_by_4_p%s PARTITION OF occurrences_by_4 FOR VALUES WITH (MODULUS 4, REMAINDER %s)', n, n);
    END LOOP;
END $$;
INSERT INTO occurrences_by_4 SELECT deployment_id, document_id, package_id FROM occurrences;
DROP TABLE occurrences;
ALTER TABLE occurrences_by_4 RENAME TO occurrences;
DO $$
BEGIN
    FOR n IN 0..3 LOOP
        EXECUTE format('ALTER TABLE occurrences_by_4_p%s RENAME TO occurrences_p%s', n, n);
    END LOOP;
END $$;
CREATE UNIQUE INDEX occurrences_by_package ON occurrences (package_id, document_id, deployment_id);
-- Statistics for the planner at once (autovacuum would get there later).
ANALYZE occurrences;
