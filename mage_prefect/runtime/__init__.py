"""Execute one Mage block the way Mage does (no Prefect here)."""
