select * from (values (1, 'alice', 30.0), (2, 'bob', 12.5), (3, 'alice', 7.5)) as t(order_id, customer, amount)
