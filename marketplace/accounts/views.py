"""Placeholder replaced by the accounts pages."""

from flask import Blueprint

bp = Blueprint("accounts", __name__, url_prefix="/accounts")


@bp.get("/login")
def login():
    return "login"


@bp.post("/logout")
def logout():
    return "logout"


@bp.get("/register")
def register():
    return "register"


@bp.get("/profile")
def profile():
    return "profile"


@bp.get("/status")
def status():
    return "status"


@bp.get("/two-factor")
def two_factor():
    return "2fa"
