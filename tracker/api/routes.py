"""Collects the features' API modules onto the blueprint and serves the OpenAPI document."""
from flask import jsonify

from tracker.api import bp
from tracker.api.openapi import document
from tracker.accounts import api as _accounts_api  # noqa: F401
from tracker.accounts import locks_api as _locks_api  # noqa: F401
from tracker.assessment import api as _assessment_api  # noqa: F401
from tracker.certificates import api as _certificates_api  # noqa: F401
from tracker.learning import api as _learning_api  # noqa: F401
from tracker.ledger import api as _ledger_api  # noqa: F401
from tracker.proctoring import api as _proctoring_api  # noqa: F401
from tracker.regulator import api as _regulator_api  # noqa: F401


@bp.get("/openapi.json")
def openapi():
    return jsonify(document())
