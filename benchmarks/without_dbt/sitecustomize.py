"""On PYTHONPATH, Python imports this at start: dbt then cannot be imported, as where it is not
installed. `make compat` installs dbt into `.venv-mage`, and Mage imports it at start when it is
there (about 3 s), so the benchmark runs Mage as `pip install mage-ai` alone installs it."""

import sys


class _WithoutDbt:
    def find_spec(self, name, path=None, target=None):
        if name == "dbt" or name.startswith("dbt."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _WithoutDbt())
