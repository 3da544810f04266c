from mage_ai.io.google_cloud_storage import GoogleCloudStorage

if 'data_loader' not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def from_a_file(*args, **kwargs):
    gcs = GoogleCloudStorage()  # Google's default credentials (here: the emulator's)
    gcs.export(kwargs['upload'], kwargs['bucket'], 'raw/upload.csv')
    return gcs.load(kwargs['bucket'], 'raw/upload.csv', limit=2)
