"""A Draft 2020-12 validator factory whose $refs resolve among schemas/.
Shared by tests/schemas/check.sh and tests/scripts/ops-schemas.sh."""
from jsonschema import Draft202012Validator


def make_validator(schemas):
    """schemas: the loaded schema documents (an iterable of dicts with $id).
    Returns validator(schema) -> Draft202012Validator."""
    schemas = list(schemas)
    try:  # jsonschema >= 4.18
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        registry = Registry().with_resources(
            (s["$id"], Resource.from_contents(s, default_specification=DRAFT202012))
            for s in schemas
        )

        def validator(schema):
            return Draft202012Validator(schema, registry=registry)

    except ImportError:  # Debian 12's jsonschema 4.10
        from jsonschema import RefResolver

        store = {s["$id"]: s for s in schemas}

        def validator(schema):
            return Draft202012Validator(
                schema, resolver=RefResolver.from_schema(schema, store=store)
            )

    return validator
