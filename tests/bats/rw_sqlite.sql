-- SPDX-License-Identifier: MIT
-- 120k rows in two transactions, an index, queries; a small page cache so
-- that pages really go through pread/pwrite.
PRAGMA cache_size = 64;
PRAGMA journal_mode = DELETE;
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, v TEXT);
BEGIN;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 60000)
INSERT INTO t(k, v) SELECT (x * 7919) % 100003, printf('row-%08d-%s', x, substr('abcdefghijklmnop', x % 10 + 1, 6)) FROM c;
COMMIT;
BEGIN;
WITH RECURSIVE c(x) AS (SELECT 60001 UNION ALL SELECT x + 1 FROM c WHERE x < 120000)
INSERT INTO t(k, v) SELECT (x * 7919) % 100003, printf('row-%08d-%s', x, substr('abcdefghijklmnop', x % 10 + 1, 6)) FROM c;
COMMIT;
CREATE INDEX t_k ON t(k);
BEGIN;
UPDATE t SET v = v || '-u' WHERE id % 7 = 0;
DELETE FROM t WHERE id % 13 = 0;
COMMIT;
SELECT count(*), sum(k), min(v), max(v) FROM t;
SELECT k % 10, count(*), sum(length(v)) FROM t GROUP BY k % 10 ORDER BY 1;
SELECT id, k, v FROM t WHERE k BETWEEN 5000 AND 5010 ORDER BY k, id;
SELECT id, v FROM t WHERE id IN (1, 7, 13, 99999, 119999, 120000) ORDER BY id;
PRAGMA integrity_check;
