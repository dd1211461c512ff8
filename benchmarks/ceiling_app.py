"""The benchmark's ceiling: a bare Flask JSON endpoint served by the same gunicorn settings.

No database, no templates, no extensions: what one request costs in this process model.
"""

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/")
def ping():
    return jsonify(ok=True)
