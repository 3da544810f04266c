"""runtime/fingerprints.py: what an incremental run compares — code, imported project modules,
configuration, the variables the code names, and the upstreams' outputs."""

from __future__ import annotations

from pathlib import Path

from mage_prefect.project.models import Block, SourceRef
from mage_prefect.runtime.fingerprints import Signatures, fingerprint


def _block(root: Path, code: str, configuration: dict | None = None) -> Block:
    path = root / "transformers" / "step.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(code)
    return Block(
        uuid="step",
        type="transformer",
        file=path,
        configuration=configuration or {},
        source=SourceRef(file=root / "pipelines" / "p" / "metadata.yaml"),
    )


def test_the_fingerprint_follows_code_imports_configuration_named_variables_and_upstreams(tmp_path):
    root = tmp_path / "proj"
    (root / "utils").mkdir(parents=True)
    (root / "utils" / "__init__.py").write_text("")
    (root / "utils" / "maths.py").write_text("def double(x):\n    return 2 * x\n")
    code = (
        "from proj.utils.maths import double\n\n@transformer\ndef step(v, **kwargs):\n"
        "    return double(kwargs['factor'])\n"
    )
    kwargs = {"factor": 2, "other": 1, "logger": object()}

    def print_of(block, values=kwargs, upstreams=("u1",)):
        return fingerprint(Signatures(root, root).of(block, ()), values, list(upstreams))

    first = print_of(_block(root, code))
    assert print_of(_block(root, code)) == first  # stable
    assert print_of(_block(root, code), {**kwargs, "other": 5}) == first  # a variable the code does not name
    assert print_of(_block(root, code), {**kwargs, "factor": 3}) != first
    assert print_of(_block(root, code), upstreams=("u2",)) != first
    assert print_of(_block(root, code, {"k": 1})) != first
    assert print_of(_block(root, code + "# edited\n")) != first
    (root / "utils" / "maths.py").write_text("def double(x):\n    return x + x\n")
    assert print_of(_block(root, code)) != first  # a project module it imports
