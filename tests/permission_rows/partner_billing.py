"""Partner billing pages and the admin's partner plans (issue 5, point 4).

No caller of the table is a partner representative (403 on the billing pages); a missing plan
id answers 404 to the admin.
"""

ROWS = {
    "partners.billing.index": (302, 403, 403, 403, 403, 403),
    "partners.billing.feature": (302, 403, 403, 403, 403, 403),
    "partners.billing.pay": (302, 403, 403, 403, 403, 403),
    "partner_plans.index": (302, 403, 403, 403, 403, 200),
    "partner_plans.plan": (302, 403, 403, 403, 403, 404),
}
ARGUMENTS = {"plan_id": 999_999_999}
