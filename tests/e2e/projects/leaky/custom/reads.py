from mage_ai.data_preparation.shared.secrets import get_secret_value


@custom
def reads(*args, **kwargs):
    token = get_secret_value('API_TOKEN')
    print(f'using {token}')
    return {'header': f'Bearer {token}'}
