-- Churn risk per contract type, kept as a table in the project's DuckDB warehouse.
SELECT
    CASE
        WHEN "contract_one-year" = 1 THEN 'one-year'
        WHEN "contract_two-year" = 1 THEN 'two-year'
        ELSE 'month-to-month'
    END AS contract,
    COUNT(*) AS customers,
    ROUND(AVG(churn_probability), 3) AS mean_churn_probability,
    COUNT(*) FILTER (WHERE churn_probability >= {{ risk_threshold }}) AS at_risk
FROM {{ df_1 }}
GROUP BY 1
ORDER BY mean_churn_probability DESC
