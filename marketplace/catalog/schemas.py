"""JSON out of the catalog API."""

from __future__ import annotations

from marshmallow import Schema, fields


class CategorySchema(Schema):
    slug = fields.String(dump_only=True)
    name = fields.String(dump_only=True)
