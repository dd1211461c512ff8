"""Imports every model module so that the metadata is complete (migrations, tests)."""

from marketplace import audit  # noqa: F401
from marketplace.accounts import models as accounts_models  # noqa: F401
from marketplace.catalog import models as catalog_models  # noqa: F401
from marketplace.membership import models as membership_models  # noqa: F401
from marketplace.notifications import models as notification_models  # noqa: F401
from marketplace.payments import document_models  # noqa: F401
from marketplace.payments import models as payment_models  # noqa: F401
from marketplace.privacy import models as privacy_models  # noqa: F401
from marketplace.treasury import models as treasury_models  # noqa: F401
