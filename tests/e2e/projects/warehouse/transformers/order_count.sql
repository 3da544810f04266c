-- Runs beside daily_revenue; the scan of a long range keeps its DuckDB connection open for a while,
-- so on a Dask or Ray runner two worker processes want the same DuckDB file at once.
SELECT COUNT(*) AS orders, SUM(amount) AS amount, (SELECT SUM(i % 7) FROM range(200000000) t(i)) AS scanned
FROM {{ df_1 }}
