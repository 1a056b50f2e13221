"""KServe's InferenceService schema, as JSON Schema, from the models of KServe's Python SDK.

No registry package ships KServe's CRD file; PyPI's ``kserve`` wheel ships the SDK's models,
generated from KServe's OpenAPI document (itself generated from the same Go types as the
CRD): each ``kserve/models/v1beta1_*.py`` class names its fields' JSON keys
(``attribute_map``), their types (``openapi_types``) and, in its setters, the required ones.
They are read here as text (``ast``), not imported: the SDK's package pulls in its whole
server. Kubernetes' own types in them (``V1Container``...) refer to kubernetes-validate's
schemas of a Kubernetes release. KServe's types admit no other field.

    python tools/kserve_schema.py WHEEL KUBERNETES_VERSION > schema.json
"""

from __future__ import annotations

import ast
import json
import re
import sys
import zipfile
from pathlib import Path
from typing import Any

_LIST = re.compile(r"list\[(.+)\]")
_DICT = re.compile(r"dict\(str, (.+)\)")
_SCALARS: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "bool": {"type": "boolean"},
    "float": {"type": "number"},
    "object": {},
    "datetime": {"type": "string"},
    "ResourceQuantity": {"anyOf": [{"type": "string"}, {"type": "number"}]},
}
# Types of other projects (KEDA, Knative) that no schema here describes: left open.
_OPEN = ("GithubComKedacore", "KnativeDev")
_GROUPED = re.compile(r"K8sIoApi([A-Z][a-z]+)(V\d+(?:alpha\d+|beta\d+)?)(\w+)")
_REQUIRED = re.compile(r"client_side_validation and (\w+) is None")


def sdk_models(wheel: Path) -> dict[str, dict[str, Any]]:
    """Each KServe model class: its fields' JSON keys, types, and the required ones."""
    models = {}
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if re.fullmatch(r"kserve/models/\w+\.py", name) and not name.endswith("__init__.py"):
                source = archive.read(name).decode("utf-8")
                for node in ast.parse(source).body:
                    if isinstance(node, ast.ClassDef):
                        models[node.name] = _fields(node, source)
    return models


def _fields(node: ast.ClassDef, source: str) -> dict[str, Any]:
    values = {
        target.id: ast.literal_eval(statement.value)
        for statement in node.body
        if isinstance(statement, ast.Assign)
        for target in statement.targets
        if isinstance(target, ast.Name) and target.id in ("openapi_types", "attribute_map")
    }
    return {
        "types": values["openapi_types"],
        "keys": values["attribute_map"],
        "required": set(_REQUIRED.findall(ast.get_source_segment(source, node) or "")),
    }


def schema(
    wheel: Path, kubernetes_schemas: Path, root: str = "V1beta1InferenceService"
) -> dict[str, Any]:
    """The JSON Schema of ``root``, KServe's types strict, Kubernetes' from ``kubernetes_schemas``
    (a kubernetes-validate folder, e.g. ``v1.37.0-local-strict``)."""
    models = sdk_models(wheel)
    definitions = json.loads((kubernetes_schemas / "_definitions.json").read_text("utf-8"))
    kubernetes = definitions["$defs"]
    built: dict[str, Any] = dict(kubernetes)

    def of(type_name: str) -> dict[str, Any]:  # noqa: PLR0911  (one return per kind of type)
        if type_name in _SCALARS:
            return _SCALARS[type_name]
        if found := _LIST.fullmatch(type_name):
            return {"type": "array", "items": of(found[1])}
        if found := _DICT.fullmatch(type_name):
            return {"type": "object", "additionalProperties": of(found[1])}
        if type_name.startswith(_OPEN):
            return {}
        if type_name in models:
            if type_name not in built:
                built[type_name] = {}  # a placeholder while its fields are built (recursion)
                built[type_name] = _object(models[type_name], of)
            return {"$ref": f"#/$defs/{type_name}"}
        try:
            return {"$ref": f"#/$defs/{_kubernetes_name(type_name, kubernetes)}"}
        except KeyError:  # a type the SDK names without a model of it: left open, and said
            built.setdefault("x-open-types", []).append(type_name)
            return {}

    top = of(root)
    return {"$schema": definitions["$schema"], "$defs": built, **top}


def _object(model: dict[str, Any], of: Any) -> dict[str, Any]:
    keys, types = model["keys"], model["types"]
    return {
        "type": "object",
        "properties": {keys[field]: of(kind) for field, kind in types.items()},
        "required": sorted(keys[field] for field in model["required"]),
        "additionalProperties": False,
    }


def _kubernetes_name(type_name: str, kubernetes: dict[str, Any]) -> str:
    """``V1Container`` -> ``io.k8s.api.core.v1.Container`` (the core and meta groups first);
    ``K8sIoApiAppsV1DeploymentStrategy`` -> ``io.k8s.api.apps.v1.DeploymentStrategy``."""
    if grouped := _GROUPED.fullmatch(type_name):
        group, version, kind = grouped.groups()
        return f"io.k8s.api.{group.lower()}.{version.lower()}.{kind}"
    version, kind = re.fullmatch(r"(V\d+(?:alpha\d+|beta\d+)?)(\w+)", type_name).groups()  # type: ignore[union-attr]
    candidates = [name for name in kubernetes if name.endswith(f".{version.lower()}.{kind}")]
    if not candidates:
        raise KeyError(f"{type_name}: no such Kubernetes type")
    preferred = [name for name in candidates if ".core." in name or ".meta." in name]
    return (preferred or candidates)[0]


def main() -> int:
    """Print the schema."""
    import kubernetes_validate

    folder = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    sys.stdout.write(json.dumps(schema(Path(sys.argv[1]), folder / f"v{sys.argv[2]}-local-strict")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
