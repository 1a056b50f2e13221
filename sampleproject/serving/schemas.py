"""Request and response bodies of the API, as pydantic models (and so in the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Discriminator, Field, Tag

from sampleproject import schema

# Examples for the interactive docs: a mammal and a bird.
EXAMPLE_ANIMAL = {"hair": 1, "milk": 1, "legs": 4, "tail": 1, "predator": 1, "catsize": 1}
EXAMPLE_BIRD = {
    "feathers": 1,
    "eggs": 1,
    "airborne": 1,
    "backbone": 1,
    "breathes": 1,
    "legs": 2,
    "tail": 1,
}


class Animal(schema.Animal):
    """One animal in a request: as :class:`schema.Animal`, but JSON numbers and booleans only.

    Named ``Animal`` too: that is its name in the OpenAPI document.
    """

    hair: schema.JsonFlag = 0
    feathers: schema.JsonFlag = 0
    eggs: schema.JsonFlag = 0
    milk: schema.JsonFlag = 0
    airborne: schema.JsonFlag = 0
    aquatic: schema.JsonFlag = 0
    predator: schema.JsonFlag = 0
    toothed: schema.JsonFlag = 0
    backbone: schema.JsonFlag = 0
    breathes: schema.JsonFlag = 0
    venomous: schema.JsonFlag = 0
    fins: schema.JsonFlag = 0
    legs: schema.JsonLegs
    tail: schema.JsonFlag = 0
    domestic: schema.JsonFlag = 0
    catsize: schema.JsonFlag = 0


def _one_or_many(body: Any) -> str | None:
    # Choose the branch from the JSON type, so that an error speaks of that branch only
    # (a plain union would report why the body is neither an object nor an array).
    if isinstance(body, dict):
        return "one"
    return "many" if isinstance(body, list) else None


def predict_body(max_animals: int, animal: type[schema.Animal] = Animal) -> Any:
    """The body of ``POST /predict``: one animal (an object) or a list of them (an array).

    JSON numbers and booleans only (:class:`Animal`), as the OpenAPI document states. The
    direct path validates with :class:`schema.Animal` in strict mode (see
    :mod:`sampleproject.serving.direct`).
    """
    return Annotated[
        Annotated[animal, Tag("one")]
        | Annotated[list[animal], Field(min_length=1, max_length=max_animals), Tag("many")],  # type: ignore[valid-type]
        Discriminator(
            _one_or_many,
            custom_error_type="animals_type",
            custom_error_message="expected an animal (a JSON object) or animals (a JSON array)",
        ),
    ]


class Prediction(BaseModel):
    """The model's answer for one animal."""

    class_code: int = Field(description="predicted class code (1 to 7)", examples=[1])
    class_name: str = Field(description="predicted class name", examples=["mammal"])
    probability: float = Field(description="probability of the predicted class", examples=[0.98])
    probabilities: dict[str, float] = Field(description="probability of every class, by name")


class ErrorDetail(BaseModel):
    """One problem in a request body."""

    location: str = Field(description="where, e.g. '[2].legs' (the third animal's legs)")
    message: str


class ErrorBody(BaseModel):
    """The body of every error response (4xx and 5xx)."""

    error: str = Field(description="what went wrong, in one line")
    details: list[ErrorDetail] = Field(default_factory=list)


def error_responses(max_body_bytes: int) -> dict[int | str, dict[str, Any]]:
    """Every error status the server can answer, on every path, each with :class:`ErrorBody`."""
    described = {
        400: "Invalid JSON",
        404: "No such path",
        405: "Method not allowed on this path (the Allow header lists the allowed ones)",
        413: f"Request body larger than the limit ({max_body_bytes} bytes; --max-body-bytes)",
        415: "Body not sent as application/json",
        422: "Invalid animal(s): which field, and why",
        500: "Internal error (the server's log has the details)",
    }
    return {status: {"model": ErrorBody, "description": text} for status, text in described.items()}


# /metrics answers Prometheus' text format, not JSON.
METRICS_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Prometheus metrics, text exposition format",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}


class Health(BaseModel):
    """Liveness: the process answers."""

    status: Literal["ok"]


class Readiness(BaseModel):
    """Readiness: whether a model serves, which one, and why a reload was refused."""

    status: Literal["ready", "loading", "failed"] = Field(examples=["ready"])
    model_sha256: str | None = Field(None, description="SHA-256 of the model file serving")
    model_version: str | None = Field(None, description="its registry version (--model)")
    model_source: str | None = Field(None, description="the registry reference it came from")
    reload_error: str | None = Field(None, description="why the last reload was refused")
    error: str | None = Field(None, description="why no model could be loaded")
