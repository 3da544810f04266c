-- Orders of at least min_amount, per day, converted with fx_rate.
SELECT order_date, SUM(amount * {{ fx_rate }}) AS revenue, COUNT(*) AS orders
FROM {{ df_1 }}
WHERE amount >= {{ variables('min_amount') }}
GROUP BY order_date
ORDER BY order_date
