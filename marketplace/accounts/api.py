from flask_smorest import Blueprint

bp = Blueprint("accounts_api", __name__, url_prefix="", description="Tokens and the caller")
