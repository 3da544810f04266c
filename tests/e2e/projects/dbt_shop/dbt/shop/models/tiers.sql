select c.tier, sum(r.revenue) as revenue, count(*) as customers
from {{ ref('revenue') }} as r
join {{ source('mage_shop', 'shop_load_customers') }} as c on c.customer = r.customer
group by c.tier
order by c.tier
