@transformer
def use(product, *args, **kwargs):
    numbers = product['make_numbers']
    return {'sum': numbers[0] + numbers[1], 'made_at': numbers[2]}
