"""The registry: nine built-in entries the search space reads, and any other optimizer added by name."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
import pytorch_optimizer
import torch

import autoopt.optimizers
from autoopt.optimizers import Lion, Range, registry

BUILTIN_LR_PRIORS = {
    "sgd": (torch.optim.SGD, Range(1e-4, 1.0, log=True)),
    "adagrad": (torch.optim.Adagrad, Range(1e-3, 1.0, log=True)),
    "adadelta": (torch.optim.Adadelta, Range(0.05, 5.0, log=True)),
    "rmsprop": (torch.optim.RMSprop, Range(1e-5, 1e-1, log=True)),
    "adam": (torch.optim.Adam, Range(1e-5, 1e-1, log=True)),
    "adamw": (torch.optim.AdamW, Range(1e-5, 1e-1, log=True)),
    "nadam": (torch.optim.NAdam, Range(1e-5, 1e-1, log=True)),
    "radam": (torch.optim.RAdam, Range(1e-5, 1e-1, log=True)),
    "lion": (Lion, Range(1e-6, 1e-2, log=True)),
}


def test_nine_builtin_entries_come_first_with_their_constructors_and_lr_priors():
    assert registry.names() == list(BUILTIN_LR_PRIORS)
    for name, (factory, lr_prior) in BUILTIN_LR_PRIORS.items():
        assert (registry.get(name).factory, registry.get(name).ranges["lr"]) == (factory, lr_prior)


def test_another_torch_optimizer_is_added_by_its_lower_case_name():
    info = registry.get(" ASGD ")
    assert info.factory is torch.optim.ASGD
    assert info.defaults["lr"] == 1e-2
    assert info.ranges == {"lr": Range(1e-4, 1.0, log=True)}  # two decades either side of the default
    assert registry.names()[-1] == "asgd" and registry.get("asgd") is info


def test_a_pytorch_optimizer_optimizer_is_added_with_its_prefix():
    info = registry.get("pytorch_optimizer:AdaBelief")
    assert info.name == "pytorch_optimizer:adabelief"
    assert info.factory is pytorch_optimizer.AdaBelief
    assert info.ranges == {"lr": Range(1e-5, 1e-1, log=True)}
    assert info.defaults["betas"] == (0.9, 0.999)


@pytest.mark.parametrize(
    "name",
    ["asgd", "adamax", "rprop", "lbfgs", "sparseadam", "pytorch_optimizer:adabelief", "pytorch_optimizer:adan"],
)
def test_entries_added_by_name_construct_from_their_defaults_as_the_search_space_does(name):
    info = registry.get(name)
    kwargs = {**info.defaults, **info.constructor_kwargs({"lr": info.ranges["lr"].low})}
    optimizer = info.factory([torch.zeros(3, requires_grad=True)], **kwargs)
    assert optimizer.param_groups[0]["lr"] == info.ranges["lr"].low


def test_pytorch_optimizer_missing_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pytorch_optimizer", None)  # as if it were not installed
    with pytest.raises(KeyError, match=r"pip install 'autoopt\[extra-optimizers\]'"):
        registry.get("pytorch_optimizer:adabelief")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("adamm", r"unknown optimizer 'adamm'; known optimizers: sgd, .*, lion; .*'pytorch_optimizer:<name>'"),
        ("pytorch_optimizer:adamm", "pytorch-optimizer has no optimizer 'adamm'"),
        ("pytorch_optimizer:ranger21", r"arguments without defaults: \['num_iterations'\]"),
        ("pytorch_optimizer:a2grad", "lr=None"),
    ],
)
def test_names_that_cannot_be_resolved_raise_key_error_saying_why(name, message):
    with pytest.raises(KeyError, match=message):
        registry.get(name)
    assert name not in registry.names()


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_optimizers_package_imports_only_torch_and_the_standard_library():
    package = Path(autoopt.optimizers.__file__).parent
    for module in package.glob("*.py"):
        foreign = _imported_roots(module) - {"torch", "autoopt"} - set(sys.stdlib_module_names)
        assert not foreign, f"{module.name} imports {foreign}"


def test_the_optimizers_package_imports_nothing_else_of_autoopt():
    package = Path(autoopt.optimizers.__file__).parent
    for module in package.glob("*.py"):
        modules = {node.module for node in ast.walk(ast.parse(module.read_text())) if isinstance(node, ast.ImportFrom)}
        outside = {m for m in modules if m and m.startswith("autoopt") and not m.startswith("autoopt.optimizers")}
        assert not outside, f"{module.name} imports {outside}"


@pytest.mark.parametrize("name", list(BUILTIN_LR_PRIORS))
def test_every_hyperparameter_a_fused_rule_reads_has_its_one_default_in_the_registry(name):
    info = registry.get(name)
    assert set(info.fused.hyperparameters) <= set(info.search_values(info.defaults))


def test_search_values_and_constructor_kwargs_are_one_mapping_both_ways():
    info = registry.get("adam")
    values = {"lr": 3e-3, "beta1": 0.8, "beta2": 0.99, "eps": 1e-8}
    assert info.constructor_kwargs(values) == {"lr": 3e-3, "betas": (0.8, 0.99), "eps": 1e-8}
    assert info.search_values(info.constructor_kwargs(values)) == values
