SELECT order_date, revenue FROM {{ df_1 }} ORDER BY revenue DESC LIMIT 1
