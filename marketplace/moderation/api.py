from flask_smorest import Blueprint

bp = Blueprint("moderation_api", __name__, url_prefix="/moderation", description="Moderation")
