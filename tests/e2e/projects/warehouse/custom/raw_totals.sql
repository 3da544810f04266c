CREATE TABLE IF NOT EXISTS analytics.raw_totals (run_date TEXT, total DOUBLE PRECISION);
INSERT INTO analytics.raw_totals SELECT '{{ ds }}', SUM(revenue) FROM {{ df_1 }};
