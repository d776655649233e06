-- Runs once, when the postgres service initialises its data directory: the view the operations
-- guide's slow-query check reads (`psql -U claudeflow -d claudeflow -c "... pg_stat_statements
-- ..."`); the library itself is preloaded by the service's command. On PostgreSQL 13 and later
-- the guide's mean_time column is named mean_exec_time.
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
