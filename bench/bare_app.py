"""The baseline for the HTTP benchmark: a bare JSON endpoint under the same gunicorn settings.

It parses the body and answers 201 with a small JSON object, with no database, no model and
no validation: what is left is the cost of Flask, gunicorn and HTTP themselves.
"""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/v1/comments")
def accept():
    body = request.get_json()
    return jsonify(id=1, status="approved", text=body.get("text")), 201
