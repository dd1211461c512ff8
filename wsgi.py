"""WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi``."""

from dotenv import load_dotenv

load_dotenv()

from marketplace import create_app  # noqa: E402 - .env must be read first

app = create_app()
