"""The test suite: a package, so ``tests/partners`` never shadows the ``partners`` package."""
