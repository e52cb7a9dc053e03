"""The labels layer's one exception type."""

from boveda.errors import BovedaError


class LabelsError(BovedaError):
    """A labels file refused (every bad line named by its number), or a label query that cannot be answered.

    The message is one line, shown to the user as is; the stored labels are unchanged.
    """
