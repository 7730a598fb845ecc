"""The data set of the figures' tests (late, exempt, unpublished and corrected results), for the 通报 and the exports."""
from tests.api.figures.test_figures import data  # noqa: F401
