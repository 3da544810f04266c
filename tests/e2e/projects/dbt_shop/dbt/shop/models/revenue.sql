select customer, sum(amount) as revenue, count(*) as orders
from {{ ref('orders') }}
where amount >= {{ var('min_amount', 0) }}
group by customer
order by customer
