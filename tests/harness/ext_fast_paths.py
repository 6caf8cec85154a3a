"""Two things moto 5.2.5 does on every request or template, done the fast way; what it answers stays the same.

- Templates are read with libyaml (PyYAML's C parser) instead of the pure-Python one: the same events and the same
  constructors (moto's `yaml_tag_constructor` for the short-form intrinsics), the same ParserError/ScannerError for
  JSON bodies. moto parses every template on CreateStack, UpdateStack, change sets and GetTemplateSummary, and the
  Python parser was the largest single cost of the integration tests' CPU (py-spy).
- The list of moto's service folders, which its dispatcher reads from disk (a listdir and ~170 isdir calls) on
  every request to tell a service name from a host, is read once.
"""
from __future__ import annotations

import types

import yaml


def _libyaml_shim(constructor) -> types.SimpleNamespace:
    """The `yaml` module as moto's CloudFormation code sees it, with `Loader` a libyaml loader."""

    class Loader(yaml.CLoader):  # CParser with the same (full) Constructor as yaml.Loader
        pass

    Loader.add_multi_constructor("", constructor)
    shim = types.SimpleNamespace(**{k: getattr(yaml, k) for k in dir(yaml) if not k.startswith("__")})
    shim.Loader = Loader
    # moto adds its constructor before each parse; it is on the class already
    shim.add_multi_constructor = lambda tag, fn, Loader=None: None
    return shim


def install(emulator) -> None:
    from moto import backends
    from moto.cloudformation import models, responses
    from moto.cloudformation.utils import yaml_tag_constructor

    if getattr(yaml, "__with_libyaml__", False):
        models.yaml = responses.yaml = _libyaml_shim(yaml_tag_constructor)

    folders = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: folders
