"""Frozen documents and the partner billing identity and API (issue 14).

A missing document id answers 404 to every signed-in caller (anonymous callers are sent to
sign in on the pages and get 401 from the API); no caller of the table is a partner
representative (403 on the billing pages and API).
"""

ROWS = {
    "documents.pdf": (302, 404, 404, 404, 404, 404),
    "documents.xml": (302, 404, 404, 404, 404, 404),
    "documents_api.pdf": (401, 404, 404, 404, 404, 404),
    "documents_api.xml": (401, 404, 404, 404, 404, 404),
    "partners.billing.identity": (302, 403, 403, 403, 403, 403),
    "partner_billing_api.overview": (401, 403, 403, 403, 403, 403),
}
ARGUMENTS = {"document_id": 999_999_999}
