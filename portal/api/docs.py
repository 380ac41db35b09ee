"""The OpenAPI document (``/api/v1/openapi.json``) and its human rendering (``/api/v1/docs``):
a server-rendered page from the same document — no script, no CDN, works offline and under
the site's strict CSP."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, render_template
from werkzeug.wrappers import Response

bp = Blueprint("api_docs", __name__)
METHODS = ("get", "post", "put", "patch", "delete")


def spec_dict() -> dict[str, Any]:
    cached = current_app.extensions.get("fufen_api_spec")
    if cached is None:
        cached = current_app.extensions["fufen_api"].spec.to_dict()
        current_app.extensions["fufen_api_spec"] = cached
    return cached  # type: ignore[no-any-return]


@bp.get("/api/v1/openapi.json")
def openapi_json() -> Response:
    return jsonify(spec_dict())


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _schema_label(schema: dict[str, Any] | None) -> str:
    if not schema:
        return ""
    if "$ref" in schema:
        return _ref_name(schema["$ref"])
    if schema.get("type") == "array":
        return f"[{_schema_label(schema.get('items'))}]"
    return str(schema.get("type", "object"))


def _operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for path, item in spec.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            responses = []
            for status, resp in op.get("responses", {}).items():
                if "$ref" in resp:
                    resp = spec["components"]["responses"][_ref_name(resp["$ref"])]
                schema = resp.get("content", {}).get("application/json", {}).get("schema")
                responses.append(
                    {
                        "status": status,
                        "description": resp.get("description", ""),
                        "schema": _schema_label(schema),
                    }
                )
            out.append(
                {
                    "id": f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", ""),
                    "method": method.upper(),
                    "path": path,
                    "tag": (op.get("tags") or ["other"])[0],
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "scope": op.get("x-scope"),
                    "secured": bool(op.get("security", spec.get("security", []))),
                    "parameters": shared + op.get("parameters", []),
                    "body": _schema_label(body),
                    "responses": responses,
                }
            )
    return out


def _schemas(spec: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, schema in sorted(spec.get("components", {}).get("schemas", {}).items()):
        required = set(schema.get("required", []))
        props = [
            {
                "name": prop,
                "type": _schema_label(p) + (" | null" if p.get("nullable") else ""),
                "required": prop in required,
                "description": p.get("description", ""),
                "enum": p.get("enum"),
                "read_only": p.get("readOnly", False),
                "limits": {k: p[k] for k in ("minimum", "maximum", "minLength", "maxLength") if k in p},
            }
            for prop, p in schema.get("properties", {}).items()
        ]
        out.append({"name": name, "properties": props})
    return out


@bp.get("/api/v1/docs")
def docs_page() -> str:
    spec = spec_dict()
    ops = _operations(spec)
    tags = [t["name"] for t in spec.get("tags", [])]
    return render_template(
        "api/docs.html",
        spec=spec,
        tags=[(t, [o for o in ops if o["tag"] == t]) for t in tags],
        schemas=_schemas(spec),
        security=spec.get("components", {}).get("securitySchemes", {}),
    )


def init_app(app: Flask, api: Any) -> None:
    app.register_blueprint(bp)
