"""Partner offers, code pools, redemption, vouchers and offer analytics."""
